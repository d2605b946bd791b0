"""The final node: calls the mock HTTP API (MOCK_API_ENDPOINT) with requests."""

import os
import time

import requests
from promptflow.core import tool


@tool
def chat(node1: str, node2: str, node3: str) -> dict:
    start = time.time()
    url = os.getenv("MOCK_API_ENDPOINT")
    if not url:
        raise RuntimeError("MOCK_API_ENDPOINT is not set")
    response = requests.get(url, timeout=30)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: {response.status_code}")
    answer = response.json()
    answer["pf_node_time_sec"] = time.time() - start
    answer["type"] = "pf_dag_sync"
    return answer
