"""Root fixtures. Tests run with WAGATE_ENV=test (set in pyproject's pytest env)
against real PostgreSQL and Redis.

``customer_a`` / ``customer_b`` are the two-customer fixture every isolation
test reuses; ``operator`` is a staff user.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.helpers import Customer, RegisteredWorker, make_customer, register_worker


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def customer_a(db) -> Customer:
    return make_customer("alice@example.com")


@pytest.fixture
def customer_b(db) -> Customer:
    return make_customer("bob@example.com")


@pytest.fixture
def operator(db) -> Customer:
    return make_customer("ops@example.com", staff=True)


@pytest.fixture(autouse=True)
def _fresh_api_key_cache():
    """Each test starts with an empty in-process API-key cache."""
    from control_plane.accounts import api_key_cache

    api_key_cache._entries.clear()
    yield
    api_key_cache._entries.clear()


@pytest.fixture
def worker(db) -> RegisteredWorker:
    status, body = register_worker("Worker_001")
    assert status == 201, body
    registered = RegisteredWorker(body["worker_id"], body["token"])
    assert registered.heartbeat().status_code == 200
    return registered


@pytest.fixture
def second_worker(db) -> RegisteredWorker:
    status, body = register_worker("worker-002")
    assert status == 201, body
    registered = RegisteredWorker(body["worker_id"], body["token"])
    assert registered.heartbeat().status_code == 200
    return registered


@pytest.fixture(autouse=True)
def _clean_redis_namespace():
    """Every test starts with an empty namespace (streams, routes, reply keys, cache
    entries such as rate-limit counters; see tests/run_env.py)."""
    from control_plane.core import redis as redis_client
    from shared import streams

    client = redis_client.client()
    keys = list(client.scan_iter(f"{streams.PREFIX}:*", count=500))
    if keys:
        client.delete(*keys)
    yield


@pytest.fixture(scope="session")
def stack_database(django_db_setup, django_db_blocker):
    """The test database for whole-stack fixtures. pytest-django creates it only when a
    collected test is marked for the database; a run of only e2e modules would
    otherwise leave the connection on the development database."""
    from django.db import connection
    from django.test.utils import setup_databases

    if not connection.settings_dict["NAME"].startswith("test_"):
        with django_db_blocker.unblock():
            setup_databases(verbosity=0, interactive=False, keepdb=True, aliases={"default"})
    assert connection.settings_dict["NAME"].startswith("test_"), connection.settings_dict["NAME"]
    return connection.settings_dict["NAME"]
