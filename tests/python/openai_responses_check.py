"""Drive the fake upstream's Responses API with the official `openai` SDK.

Usage: python openai_responses_check.py BASE_URL   (e.g. http://127.0.0.1:PORT/v1)
Prints one `name key=value ...` line per check for the Rust test.
"""

import sys

import openai

client = openai.OpenAI(base_url=sys.argv[1], api_key="fake-key", max_retries=0, timeout=10)

response = client.responses.create(
    model="gpt-4o-mini",
    instructions="Be brief.",
    input="Say hello to the fake upstream.",
    max_output_tokens=5,
)
print(
    f"response object={response.object} id={response.id[:5]} status={response.status} "
    f"text={response.output_text!r} input_tokens={response.usage.input_tokens} "
    f"output_tokens={response.usage.output_tokens} total_tokens={response.usage.total_tokens}"
)

stream = client.responses.create(
    model="gpt-4o-mini",
    input=[{"role": "user", "content": [{"type": "input_text", "text": "Stream please."}]}],
    max_output_tokens=6,
    stream=True,
)
kinds, deltas, completed = [], [], None
for event in stream:
    if not kinds or kinds[-1] != event.type:
        kinds.append(event.type)
    if event.type == "response.output_text.delta":
        deltas.append(event.delta)
    if event.type == "response.completed":
        completed = event.response
print(
    f"stream events={','.join(kinds)} deltas={len(deltas)} text={''.join(deltas)!r} "
    f"final={completed.output_text!r} output_tokens={completed.usage.output_tokens}"
)

# The SDK's stream helper, which accumulates the events into a response.
with client.responses.stream(model="gpt-4o-mini", input="abcdefgh", max_output_tokens=3) as helper:
    for _ in helper:
        pass
    final = helper.get_final_response()
print(f"helper text={final.output_text!r} output_tokens={final.usage.output_tokens}")
