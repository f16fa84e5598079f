"""The floor under replay's CPU per call: the same requests made with httpx alone.

    python bench/httpx_floor.py BASE_URL CALLS CONCURRENCY

One ``httpx.Client`` shared by CONCURRENCY threads (as fbcli's replay does),
authorized once, then CALLS purchase events posted with the token, nothing
else: no events read, no planning, no rate limiter, no ledger, no retries.
Prints one JSON object: ``calls``, ``cpu_s`` (this process's CPU over the
calls only, authorization and imports excluded), ``wall_s`` and the set of
statuses seen.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

BODY: dict[str, Any] = {
    "customerId": "cust-1",
    "email": "ada@example.com",
    "orderId": "ORD-1",
    "amount": 45.97,
    "currency": "USD",
    "products": [{"sku": "BOOK-PY", "name": "Python pocket guide", "quantity": 1, "price": 45.97}],
}


def main(argv: list[str]) -> int:
    """``httpx_floor.py BASE_URL CALLS CONCURRENCY``: print the figures as JSON."""
    if len(argv) != 3:
        print("usage: httpx_floor.py BASE_URL CALLS CONCURRENCY", file=sys.stderr)
        return 2
    base_url, calls, concurrency = argv[0], int(argv[1]), int(argv[2])
    with httpx.Client(base_url=base_url, timeout=30) as client:
        answer = client.post("/v1/authorization", json={"key": "bench", "secret": "bench-secret"})
        headers = {"Authorization": f"Bearer {answer.json()['token']}"}

        def post(number: int) -> int:
            body = {**BODY, "orderId": f"ORD-{number}"}
            return client.post("/v1/event/purchase", json=body, headers=headers).status_code

        cpu, wall = time.process_time(), time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            statuses = set(pool.map(post, range(calls)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(json.dumps({"calls": calls, "cpu_s": cpu, "wall_s": wall, "statuses": sorted(statuses)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
