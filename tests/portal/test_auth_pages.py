"""Sign up, log in, log out, password change and the account page."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.portal.conftest import HTMX

pytestmark = pytest.mark.django_db


def test_signup_creates_a_basic_customer_and_logs_them_in():
    from control_plane.accounts.models import User

    client = Client()
    response = client.post(
        "/signup", {"name": "Carol", "email": "Carol@Example.com", "password": "a-long-passphrase"}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(email="carol@example.com")
    assert user.tier_id == "basic" and not user.is_staff
    page = client.get("/")
    assert page.status_code == 200 and b"No instances yet" in page.content


def test_signup_weak_password_is_reported_next_to_the_password_field():
    response = Client().post("/signup", {"email": "dave@example.com", "password": "12345678"})
    assert response.status_code == 422
    form = response.context["form"]
    assert form.errors["password"] and "numeric" in " ".join(form.errors["password"])
    assert b'id="id_password_error_1"' in response.content


def test_signup_with_a_taken_address_is_reported_next_to_the_email(customer_a):
    response = Client().post("/signup", {"email": "ALICE@example.com", "password": "a-long-passphrase"})
    assert response.status_code == 422
    assert response.context["form"].errors["email"] == ["already registered"]


def test_signup_checks_the_address_shape():
    response = Client().post("/signup", {"email": "not-an-address", "password": "a-long-passphrase"})
    assert response.status_code == 422 and "email" in response.context["form"].errors


def test_login_with_a_wrong_password_shows_one_message_for_both_failures(customer_a):
    response = Client().post("/login", {"email": "alice@example.com", "password": "wrong"})
    assert response.status_code == 422
    assert response.context["form"].non_field_errors() == ["The e-mail address or password is wrong."]


def test_login_goes_to_next_when_it_is_on_this_site(customer_a):
    client = Client()
    response = client.post(
        "/login", {"email": "alice@example.com", "password": customer_a.password, "next": "/keys"}
    )
    assert response.status_code == 302 and response["Location"] == "/keys"
    assert client.get("/keys").status_code == 200


def test_login_never_redirects_to_another_site(customer_a):
    response = Client().post(
        "/login",
        {"email": "alice@example.com", "password": customer_a.password, "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and response["Location"] == "/"


def test_pages_send_an_anonymous_visitor_to_the_login_page():
    response = Client().get("/keys")
    assert response.status_code == 302 and response["Location"] == "/login?next=%2Fkeys"


def test_an_expired_login_during_an_htmx_request_redirects_the_whole_page():
    response = Client().get("/instances/x/panel", **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/login?next=")


def test_logout_needs_a_post_and_then_ends_the_session(browser_a):
    confirm = browser_a.get("/logout")
    assert confirm.status_code == 200 and b"Log out?" in confirm.content
    assert browser_a.get("/").status_code == 200  # GET did not log out
    response = browser_a.post("/logout")
    assert response.status_code == 302 and response["Location"] == "/login"
    assert browser_a.get("/").status_code == 302


def test_account_page_shows_the_tier_limits_and_usage(browser_a, instance_a):
    response = browser_a.get("/account")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Plan: Basic" in text
    assert "1 of 1 used" in text
    assert "10 per instance, 30 in total" in text


def test_password_change_with_a_wrong_current_password_is_refused_next_to_it(browser_a):
    response = browser_a.post(
        "/account/password",
        {"old_password": "nope", "new_password1": "other-passphrase", "new_password2": "other-passphrase"},
    )
    assert response.status_code == 422
    assert "old_password" in response.context["password_form"].errors


def test_password_change_keeps_this_browser_logged_in_and_the_new_password_works(browser_a, customer_a):
    response = browser_a.post(
        "/account/password",
        {
            "old_password": customer_a.password,
            "new_password1": "another-passphrase",
            "new_password2": "another-passphrase",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/account"
    assert browser_a.get("/account").status_code == 200
    login = Client().post("/login", {"email": "alice@example.com", "password": "another-passphrase"})
    assert login.status_code == 302
