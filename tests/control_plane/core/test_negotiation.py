"""What a client's Accept header gets."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/*"])
def test_json_for_a_client_that_takes_it(customer_a, accept):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = customer_a.key_client().get("/v1/sessions", **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_a_client_that_takes_only_html_is_told_406_in_the_envelope(customer_a):
    response = customer_a.key_client().get("/v1/sessions", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert response.json()["error"]["code"] == "not_acceptable"


def test_the_schema_still_answers_in_the_format_asked_for(api):
    assert api.get("/v1/schema/?format=json")["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert api.get("/v1/schema/")["Content-Type"].startswith("application/vnd.oai.openapi")


def test_the_api_builds_no_message_storage_and_pages_still_do(customer_a, client):
    from django.contrib.messages import get_messages

    response = customer_a.key_client().get("/v1/sessions")
    assert not hasattr(response.wsgi_request, "_messages")
    page = client.get("/login")
    assert list(get_messages(page.wsgi_request)) == []  # storage present, nothing queued
