"""Drive the fake upstream with the official `openai` SDK; print one line per check.

Usage: python openai_sdk_check.py BASE_URL   (e.g. http://127.0.0.1:PORT/v1)
Each line is `name key=value ...`; the Rust test asserts on them. Any SDK
error propagates (non-zero exit with a traceback).
"""

import sys

import openai

base_url = sys.argv[1]
client = openai.OpenAI(base_url=base_url, api_key="fake-key", max_retries=0, timeout=10)
print(f"sdk version={openai.__version__}")

chat = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "Say hello to the fake upstream."}],
    max_tokens=5,
)
print(
    f"chat model={chat.model} content={chat.choices[0].message.content!r} "
    f"finish={chat.choices[0].finish_reason} prompt_tokens={chat.usage.prompt_tokens} "
    f"completion_tokens={chat.usage.completion_tokens}"
)

stream = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "Stream please."}],
    max_tokens=6,
    stream=True,
    stream_options={"include_usage": True},
)
tokens, usage, finish = [], None, None
for chunk in stream:
    if chunk.usage is not None:
        usage = chunk.usage
    for choice in chunk.choices:
        if choice.delta.content:
            tokens.append(choice.delta.content)
        if choice.finish_reason:
            finish = choice.finish_reason
print(
    f"stream chunks={len(tokens)} text={''.join(tokens)!r} finish={finish} "
    f"completion_tokens={usage.completion_tokens if usage else None}"
)

completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="abcdefgh", max_tokens=3)
print(
    f"completion text={completion.choices[0].text!r} prompt_tokens={completion.usage.prompt_tokens} "
    f"completion_tokens={completion.usage.completion_tokens}"
)

# No encoding_format: the SDK asks for base64 and decodes it itself.
embeddings = client.embeddings.create(model="text-embedding-3-small", input=["one", "two", "three"])
print(
    f"embeddings count={len(embeddings.data)} dims={len(embeddings.data[0].embedding)} "
    f"first_type={type(embeddings.data[0].embedding[0]).__name__}"
)
floats = client.embeddings.create(
    model="text-embedding-3-small", input="abcd", encoding_format="float", dimensions=8
)
print(f"embeddings_float count={len(floats.data)} dims={len(floats.data[0].embedding)}")

models = client.models.list()
print(f"models ids={','.join(m.id for m in models.data)}")
