"""Portal page fixtures: Django's test client logged in as a customer or an operator."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def browser_a(customer_a) -> Client:
    client = Client()
    client.force_login(customer_a.user)
    return client


@pytest.fixture
def browser_b(customer_b) -> Client:
    client = Client()
    client.force_login(customer_b.user)
    return client


@pytest.fixture
def operator_browser(operator) -> Client:
    client = Client()
    client.force_login(operator.user)
    return client


@pytest.fixture
def instance_a(customer_a):
    from control_plane.sessions.services import session_create

    return session_create(user=customer_a.user, name="Shop One", description="The shop's support line")


HTMX = {"HTTP_HX_REQUEST": "true"}
