"""CSRF on every form, no 500 on bad input, error pages in HTML, the websocket address."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

from control_plane.portal.live import websocket_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def strict_a(customer_a) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer_a.user)
    return client


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/instances/new", {"name": "x"}),
        ("/keys", {"name": "x"}),
        ("/webhooks", {"url": "http://127.0.0.1/", "events": ["message.received"]}),
        ("/account/password", {"old_password": "x"}),
        ("/logout", {}),
    ],
)
def test_every_form_needs_its_csrf_token(strict_a, url, data):
    response = strict_a.post(url, data)
    assert response.status_code == 403
    assert b"This form has expired" in response.content


def test_a_form_with_its_csrf_token_goes_through(strict_a, customer_a):
    page = strict_a.get("/keys")
    token = page.context["csrf_token"]
    response = strict_a.post("/keys", {"name": "with token", "csrfmiddlewaretoken": str(token)})
    assert response.status_code == 200 and b"Copy it now" in response.content


def test_htmx_requests_carry_the_token_in_a_header(strict_a):
    page = strict_a.get("/")
    token = str(page.context["csrf_token"])
    assert f'hx-headers=\'{{"X-CSRFToken": "{token}"}}\'' in page.content.decode()
    response = strict_a.post("/instances/new", {"name": "x"}, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200 and response["HX-Redirect"].startswith("/instances/x-")


def test_login_and_signup_pages_need_the_token_too():
    client = Client(enforce_csrf_checks=True)
    assert client.post("/login", {"email": "a@b.c", "password": "x"}).status_code == 403
    assert client.post("/signup", {"email": "a@b.c", "password": "x"}).status_code == 403


NASTY = ["\x00", "a\x00b", "x" * 5000, "💥" * 50, "<script>alert(1)</script>", "' OR 1=1 --", "%00"]


@pytest.mark.parametrize("value", NASTY)
def test_bad_input_never_makes_a_500(browser_a, instance_a, value):
    posts = [
        ("/instances/new", {"name": value, "description": value}),
        ("/keys", {"name": value}),
        ("/account/password", {"old_password": value, "new_password1": value, "new_password2": value}),
        (f"/instances/{instance_a.id}/pairing-code", {"phone": value}),
        (f"/instances/{instance_a.id}/send", {"to": value, "text": value}),
        ("/webhooks", {"url": value, "events": [value], "secret": value, "session": value}),
        ("/login", {"email": value, "password": value}),
        ("/signup", {"email": value, "password": value, "name": value}),
    ]
    for url, data in posts:
        response = browser_a.post(url, data)
        assert response.status_code < 500, (url, value, response.status_code)


@pytest.mark.parametrize("value", ["%00", "x" * 3000, "..%2F..%2Fetc", "%F0%9F%92%A5", "a b"])
def test_bad_ids_in_urls_are_404_pages(browser_a, operator_browser, value):
    urls = [
        f"/instances/{value}",
        f"/instances/{value}/qr.png",
        f"/instances/{value}/messages",
        f"/keys/{value}/revoke",
        f"/webhooks/{value}",
        f"/webhooks/{value}/deliveries/{value}/redeliver",
    ]
    for url in urls:
        response = browser_a.post(url) if url.endswith(("revoke", "redeliver")) else browser_a.get(url)
        assert response.status_code == 404, url
    assert operator_browser.post(f"/fleet/workers/{value}/drain").status_code == 404


def test_unknown_pages_are_a_friendly_html_404(browser_a):
    response = browser_a.get("/no/such/page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html") and b"Back to your instances" in response.content


def test_wrong_methods_are_405_not_500(browser_a, instance_a):
    assert browser_a.get(f"/instances/{instance_a.id}/connect").status_code == 405
    assert browser_a.delete("/keys").status_code == 405
    assert browser_a.post("/").status_code == 405


def test_the_websocket_address_follows_the_page_host(settings):
    settings.WEBSOCKET_URL, settings.WS_PORT = "", 8001
    request = RequestFactory().get("/", HTTP_HOST="127.0.0.1:8000")
    assert websocket_url(request) == "ws://127.0.0.1:8001/ws/"
    assert websocket_url(request, session_id="shop-1") == "ws://127.0.0.1:8001/ws/?session=shop-1"
    secure = RequestFactory().get("/", HTTP_HOST="[::1]:8000", secure=True)
    assert websocket_url(secure) == "wss://[::1]:8001/ws/"


def test_a_configured_websocket_address_wins(settings):
    settings.WEBSOCKET_URL = "wss://gw.example.com/ws/?v=1"
    request = RequestFactory().get("/", HTTP_HOST="127.0.0.1:8000")
    assert websocket_url(request, session_id="s") == "wss://gw.example.com/ws/?v=1&session=s"
