"""The per-session and per-customer limits: django-ratelimit's windows and keys,
counted in one Redis round trip."""

import pytest
from django.test import RequestFactory
from django_ratelimit import ALL
from django_ratelimit.core import get_usage

from control_plane.accounts import api_key_cache
from control_plane.accounts.models import Tier
from control_plane.core import redis as redis_client

pytestmark = pytest.mark.django_db


def send(client, session_id, text):
    return client.post(
        f"/v1/sessions/{session_id}/messages", {"to": "15550000002", "text": text}, format="json"
    )


def _limits(session=10, user=30):
    Tier.objects.filter(name="basic").update(
        messages_per_minute_per_session=session, messages_per_minute_per_user=user
    )
    api_key_cache._entries.clear()  # the cached key carries the user and its tier


def test_a_send_refused_for_its_session_does_not_count_against_the_customer(customer_a, connected):
    _limits(session=2, user=4)
    client = customer_a.key_client()
    statuses = [send(client, connected.id, f"m{n}").status_code for n in range(5)]
    assert statuses == [202, 202, 429, 429, 429]
    usage = get_usage(
        RequestFactory().get("/"),
        group="messages.user",
        key=lambda _group, _request: f"u:{customer_a.user.pk}",
        rate="4/m",
        method=ALL,
        increment=False,
    )
    assert usage["count"] == 2  # django-ratelimit reads the very counters we keep


def test_both_limits_cost_one_redis_command_per_send(customer_a, connected):
    def calls():
        stats = redis_client.client().info("commandstats")
        return {
            name: stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("evalsha", "incrby", "exists")
        }

    client = customer_a.key_client()
    send(client, connected.id, "warm up")  # loads the script
    before = calls()
    for n in range(5):
        assert send(client, connected.id, f"m{n}").status_code == 202
    after = calls()
    assert {name: after[name] - before[name] for name in after} == {"evalsha": 5, "incrby": 0, "exists": 0}
