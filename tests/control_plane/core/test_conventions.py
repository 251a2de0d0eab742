"""Every answer under /v1/ follows API.md's conventions, including failures."""

import pytest

from tests.helpers import error_code

pytestmark = pytest.mark.django_db


def test_unknown_api_path_is_404_envelope(api):
    response = api.get("/v1/no-such-thing")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert error_code(response) == "not_found"


def test_wrong_method_is_405_envelope(api):
    response = api.delete("/v1/auth/login")
    assert response.status_code == 405
    assert error_code(response) == "method_not_allowed"


def test_non_json_content_type_is_415_envelope(api):
    response = api.post(
        "/v1/auth/login", "email=a&password=b", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert error_code(response) == "unsupported_media_type"


def test_unparseable_json_is_400_envelope(api):
    response = api.post("/v1/auth/login", '{"email": "a@b.c", ', content_type="application/json")
    assert response.status_code == 400
    assert error_code(response) == "invalid_json"


def test_json_that_is_not_an_object_is_a_validation_error(api):
    response = api.post("/v1/auth/login", "[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert error_code(response) == "validation_error"


def test_missing_fields_are_listed(api):
    response = api.post("/v1/auth/register", {}, format="json")
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert set(response.json()["error"]["details"]["fields"]) == {"email", "password"}


def test_wrongly_typed_fields_are_a_validation_error(api):
    response = api.post("/v1/auth/register", {"email": ["x"], "password": {"a": 1}}, format="json")
    assert response.status_code == 400
    assert error_code(response) == "validation_error"


def test_oversized_body_is_413_envelope(api, settings):
    settings.API_MAX_BODY_BYTES = 1000
    response = api.post("/v1/auth/register", {"email": "a@b.co", "password": "x" * 2000}, format="json")
    assert response.status_code == 413
    assert error_code(response) == "payload_too_large"


@pytest.mark.urls("tests.control_plane.core.urls_crash")
def test_unexpected_exception_is_500_envelope_with_reference(api, caplog):
    response = api.get("/v1/crash")
    assert response.status_code == 500
    assert error_code(response) == "internal_error"
    reference = response.json()["error"]["details"]["reference"]
    assert reference in response.json()["error"]["message"]
    assert any(reference in record.getMessage() for record in caplog.records)


def test_schema_and_docs_are_served(api):
    schema = api.get("/v1/schema/")
    assert schema.status_code == 200
    assert b"/v1/auth/register" in schema.content
    docs = api.get("/v1/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


@pytest.mark.parametrize(
    "path",
    [
        "/v1/api-keys/%00",
        "/v1/sessions/%00",
        "/v1/sessions/a%00b/qr",
        "/v1/messages/%00",
        "/v1/webhooks/%00/deliveries",
    ],
)
def test_nul_bytes_in_paths_are_404_not_500(customer_a, path):
    for method in ("get", "delete"):
        response = getattr(customer_a.jwt_client(), method)(path)
        assert response.status_code == 404, (method, path)
        assert error_code(response) == "not_found"


def test_nul_bytes_in_json_or_query_are_400(customer_a):
    response = customer_a.key_client().post("/v1/sessions", {"name": "shop\u0000"}, format="json")
    assert response.status_code == 400
    assert customer_a.key_client().get("/v1/sessions?status=%00").status_code == 400
