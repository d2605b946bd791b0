"""The `anthropic` SDK against a fake upstream that injects 429s: the SDK
must raise its RateLimitError with Anthropic's error type. Prints one line."""

import sys

import anthropic

client = anthropic.Anthropic(base_url=sys.argv[1], api_key="fake-key", max_retries=0, timeout=10)
try:
    client.messages.create(
        model="claude-3-5-haiku-latest", max_tokens=3, messages=[{"role": "user", "content": "x"}]
    )
    print("error none")
except anthropic.RateLimitError as e:
    print(f"error class={type(e).__name__} status={e.status_code} type={e.body['error']['type']}")
