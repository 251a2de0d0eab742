"""Another customer's session answers 404 on every endpoint, and is never touched."""

import pytest

from control_plane.sessions.models import Session
from tests.helpers import error_code

pytestmark = pytest.mark.django_db

CALLS = [
    ("get", ""),
    ("patch", ""),
    ("delete", ""),
    ("post", "/connect"),
    ("post", "/disconnect"),
    ("post", "/logout"),
    ("post", "/restart"),
    ("get", "/qr"),
    ("get", "/qr.png"),
    ("post", "/pairing-code"),
    ("post", "/reset-attempts"),
    ("get", "/events"),
]


@pytest.mark.parametrize(("method", "suffix"), CALLS)
@pytest.mark.parametrize("credential", ["jwt", "key"])
def test_another_customers_session_is_404(customer_a, customer_b, worker, method, suffix, credential):
    from control_plane.sessions.services import session_create

    theirs = session_create(user=customer_b.user, name="Bob's shop")
    Session.objects.filter(pk=theirs.id).update(status="qr_ready", qr="secret-qr", connection_attempts=3)
    client = customer_a.jwt_client() if credential == "jwt" else customer_a.key_client()
    response = getattr(client, method)(
        f"/v1/sessions/{theirs.id}{suffix}", {"name": "hijack", "phone": "15551234567"}, format="json"
    )
    assert response.status_code == 404
    assert error_code(response) == "not_found"
    untouched = Session.objects.get(pk=theirs.id)
    assert (untouched.name, untouched.status, untouched.worker_id, untouched.connection_attempts) == (
        "Bob's shop",
        "qr_ready",
        None,
        3,
    )


def test_lists_and_stats_show_only_your_own_sessions(customer_a, customer_b):
    from control_plane.sessions.services import session_create

    session_create(user=customer_b.user, name="Bob's shop")
    assert customer_a.key_client().get("/v1/sessions").json()["results"] == []
    assert customer_a.key_client().get("/v1/sessions/stats").json()["total"] == 0
    assert customer_a.key_client().get("/v1/sessions/problematic").json()["results"] == []
