"""A separate process that calls the API, for the cross-process throttling test.

It imports nothing of Django at module level: ``multiprocessing`` (spawn) imports this
module in a fresh interpreter before Django is set up.
"""

from __future__ import annotations

import os


def call_api(
    database_name: str, cache_prefix: str, raw_key: str, requests: int, start, results
) -> None:  # pragma: no cover - runs in the child process
    """Set up Django against the test database and cache prefix, wait for the start, call, report."""
    os.environ["CACHE_KEY_PREFIX"] = cache_prefix
    import django

    django.setup()
    from django.db import connections
    from django.test import Client
    from django.test.utils import setup_test_environment

    connections["default"].settings_dict["NAME"] = database_name
    setup_test_environment()  # allows the test client's "testserver" host
    client = Client(headers={"Authorization": f"Bearer {raw_key}"})
    client.get("/health")  # import and connect before the race starts
    start.wait(timeout=30)
    answers = []
    for _ in range(requests):
        response = client.get("/api/v1/categories/")
        answers.append((response.status_code, response.get("RateLimit-Remaining"), response.get("Retry-After")))
    results.put((os.getpid(), answers))
    connections.close_all()
