"""Racing creates can never exceed the tier's session limit (real transactions)."""

import threading

import pytest
from django.db import connection

from control_plane.core.errors import TierLimit
from control_plane.sessions.models import Session
from control_plane.sessions.services import session_create
from tests.helpers import make_customer

pytestmark = pytest.mark.django_db(transaction=True)


def test_ten_concurrent_creates_on_a_five_session_tier_make_five():
    customer = make_customer("burst@example.com", tier="pro")
    barrier = threading.Barrier(10)
    outcomes = []

    def create(n: int) -> None:
        try:
            barrier.wait()
            session_create(user=customer.user, name=f"burst {n}")
            outcomes.append("created")
        except TierLimit:
            outcomes.append("tier_limit")
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["created"] * 5 + ["tier_limit"] * 5
    assert Session.objects.filter(owner=customer.user).count() == 5
