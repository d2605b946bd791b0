"""A guardrail node: stands in for an LLM call by awaiting a sleep."""

import asyncio
import os

from promptflow.core import tool


@tool
async def guardrail(question: str) -> str:
    await asyncio.sleep(float(os.getenv("GUARDRAIL_DELAY_S", "0.1")))
    return f"checked: {len(question)} chars"
