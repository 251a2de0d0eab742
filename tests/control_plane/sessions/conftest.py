"""Session fixtures: a customer's session created through the service."""

import pytest


@pytest.fixture
def session_a(customer_a):
    from control_plane.sessions.services import session_create

    return session_create(user=customer_a.user, name="Shop One")
