"""/v1/health reports the database and Redis, and 503 when one is down."""

import pytest

from control_plane.core import redis as redis_client
from tests.helpers import error_code

pytestmark = pytest.mark.django_db


def test_health_is_ok_when_database_and_redis_answer(api):
    response = api.get("/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"


@pytest.fixture
def unreachable_redis(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    redis_client.client.cache_clear()
    yield
    redis_client.client.cache_clear()


def test_health_is_503_while_redis_is_unreachable(api, unreachable_redis):
    response = api.get("/v1/health")
    assert response.status_code == 503
    assert error_code(response) == "unhealthy"
    assert response.json()["checks"]["redis"]["status"] == "error"
    assert response.json()["checks"]["database"]["status"] == "ok"
