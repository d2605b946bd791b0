"""The final node: calls the mock HTTP API (MOCK_API_ENDPOINT) with aiohttp."""

import os
import time

import aiohttp
from promptflow.core import tool


@tool
async def chat(node1: str, node2: str, node3: str) -> dict:
    start = time.time()
    url = os.getenv("MOCK_API_ENDPOINT")
    if not url:
        raise RuntimeError("MOCK_API_ENDPOINT is not set")
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            if response.status != 200:
                raise RuntimeError(f"GET {url}: {response.status}")
            answer = await response.json()
    answer["pf_node_time_sec"] = time.time() - start
    answer["type"] = "pf_dag_async"
    return answer
