"""Drive the fake upstream with the official `anthropic` SDK; print one line per check.

Usage: python anthropic_sdk_check.py BASE_URL   (e.g. http://127.0.0.1:PORT)
Each line is `name key=value ...`; the Rust test asserts on them. Any SDK
error propagates (non-zero exit with a traceback).
"""

import sys

import anthropic

base_url = sys.argv[1]
client = anthropic.Anthropic(base_url=base_url, api_key="fake-key", max_retries=0, timeout=10)
print(f"sdk version={anthropic.__version__}")

message = client.messages.create(
    model="claude-3-5-haiku-latest",
    max_tokens=5,
    system="Be brief.",
    messages=[{"role": "user", "content": "Say hello to the fake upstream."}],
)
print(
    f"message type={message.type} id={message.id[:4]} model={message.model} "
    f"text={message.content[0].text!r} stop={message.stop_reason} "
    f"input_tokens={message.usage.input_tokens} output_tokens={message.usage.output_tokens}"
)

# The raw events, as `stream=True` hands them over.
stream = client.messages.create(
    model="claude-3-5-haiku-latest",
    max_tokens=6,
    messages=[{"role": "user", "content": [{"type": "text", "text": "Stream please."}]}],
    stream=True,
)
kinds, text, output_tokens = [], [], None
for event in stream:
    if not kinds or kinds[-1] != event.type:
        kinds.append(event.type)
    if event.type == "content_block_delta" and event.delta.type == "text_delta":
        text.append(event.delta.text)
    if event.type == "message_delta":
        output_tokens = event.usage.output_tokens
print(
    f"stream events={','.join(kinds)} deltas={len(text)} text={''.join(text)!r} "
    f"output_tokens={output_tokens}"
)

# The SDK's stream helper, which accumulates the events into a message.
with client.messages.stream(
    model="claude-3-5-haiku-latest",
    max_tokens=4,
    messages=[{"role": "user", "content": "abcdefgh"}],
) as helper:
    joined = "".join(helper.text_stream)
    final = helper.get_final_message()
print(
    f"helper text={joined!r} final={final.content[0].text!r} stop={final.stop_reason} "
    f"input_tokens={final.usage.input_tokens} output_tokens={final.usage.output_tokens}"
)
