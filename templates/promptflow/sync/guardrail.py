"""A guardrail node: stands in for an LLM call by sleeping (blocking)."""

import os
import time

from promptflow.core import tool


@tool
def guardrail(question: str) -> str:
    time.sleep(float(os.getenv("GUARDRAIL_DELAY_S", "0.1")))
    return f"checked: {len(question)} chars"
