"""The session lifecycle through the HTTP API (control plane side; the worker's
part is proven in tests/e2e)."""

import pytest

from control_plane.sessions.models import Session, SessionSnapshot
from shared.commands import DropSession, StartSession, StopSession
from tests.helpers import error_code, worker_commands

pytestmark = pytest.mark.django_db


def test_create_gives_a_disconnected_session_with_a_normalized_id(customer_a):
    response = customer_a.key_client().post(
        "/v1/sessions", {"name": "My Shop!", "description": "main line"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("my-shop-")
    assert body["status"] == "disconnected" and body["worker"] is None
    assert set(body) >= {
        "id",
        "name",
        "description",
        "status",
        "phone",
        "platform",
        "wa_version",
        "worker",
        "proxy",
        "connection_attempts",
        "last_disconnect_reason",
        "messages_sent",
        "messages_received",
        "total_chats",
        "memory_mb",
        "last_health_check",
        "last_activity",
        "created_at",
        "updated_at",
    }
    history = customer_a.key_client().get(f"/v1/sessions/{body['id']}/events").json()["results"]
    assert history[0]["to_status"] == "disconnected" and history[0]["reason"] == "created"


def test_the_tier_limit_is_enforced(customer_a):
    client = customer_a.key_client()
    assert client.post("/v1/sessions", {"name": "one"}, format="json").status_code == 201
    response = client.post("/v1/sessions", {"name": "two"}, format="json")
    assert response.status_code == 403
    assert error_code(response) == "tier_limit"
    assert Session.objects.filter(owner=customer_a.user).count() == 1


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "!!!"}, {"name": "x" * 101}, {"name": ["a"]}])
def test_create_with_a_bad_name_is_a_validation_error(customer_a, body):
    response = customer_a.key_client().post("/v1/sessions", body, format="json")
    assert response.status_code == 400
    assert error_code(response) == "validation_error"


def test_ids_in_paths_are_normalized(customer_a, session_a):
    response = customer_a.key_client().get(f"/v1/sessions/{session_a.id.upper()}")
    assert response.status_code == 200 and response.json()["id"] == session_a.id


def test_list_filters_by_status_and_rejects_unknown_statuses(customer_a, session_a):
    client = customer_a.jwt_client()
    assert [s["id"] for s in client.get("/v1/sessions?status=disconnected").json()["results"]] == [
        session_a.id
    ]
    assert client.get("/v1/sessions?status=connected").json()["results"] == []
    assert client.get("/v1/sessions?status=asleep").status_code == 400


def test_patch_changes_name_and_description(customer_a, session_a):
    response = customer_a.key_client().patch(
        f"/v1/sessions/{session_a.id}", {"name": "Renamed", "description": "d"}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["description"]) == ("Renamed", "d")
    assert customer_a.key_client().patch(f"/v1/sessions/{session_a.id}", {}, format="json").status_code == 400


def test_connect_with_no_worker_is_503_and_changes_nothing(customer_a, session_a):
    response = customer_a.key_client().post(f"/v1/sessions/{session_a.id}/connect")
    assert response.status_code == 503
    assert error_code(response) == "worker_unavailable"
    session_a.refresh_from_db()
    assert session_a.status == "disconnected" and session_a.worker is None


def test_connect_routes_to_a_worker_and_sends_the_start_command(
    customer_a, session_a, worker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = customer_a.key_client().post(f"/v1/sessions/{session_a.id}/connect")
    assert response.status_code == 202
    assert response.json()["status"] == "connecting"
    assert response.json()["worker"] == worker.worker_id
    session_a.refresh_from_db()
    assert session_a.generation == 1 and session_a.connection_attempts == 1
    ((_, command),) = worker_commands(worker.worker_id)
    assert isinstance(command, StartSession)
    assert (command.session_id, command.generation, command.restore) == (session_a.id, 1, False)
    from control_plane.core import transport

    assert transport.route_get(session_id=session_a.id) == {"worker": worker.worker_id, "generation": 1}


def test_connect_twice_is_409(customer_a, session_a, worker):
    customer_a.key_client().post(f"/v1/sessions/{session_a.id}/connect")
    response = customer_a.key_client().post(f"/v1/sessions/{session_a.id}/connect")
    assert response.status_code == 409
    Session.objects.filter(pk=session_a.id).update(status="connected")
    assert customer_a.key_client().post(f"/v1/sessions/{session_a.id}/connect").status_code == 409


def test_connect_says_restore_when_a_snapshot_exists(
    customer_a, session_a, worker, django_capture_on_commit_callbacks
):
    SessionSnapshot.objects.create(
        session=session_a, blob_name="x", size=1, sha256="0", generation=0, worker_id="old"
    )
    with django_capture_on_commit_callbacks(execute=True):
        customer_a.key_client().post(f"/v1/sessions/{session_a.id}/connect")
    assert worker_commands(worker.worker_id)[0][1].restore is True


def test_qr_is_409_until_the_session_waits_for_a_scan(customer_a, session_a):
    response = customer_a.key_client().get(f"/v1/sessions/{session_a.id}/qr")
    assert response.status_code == 409
    assert error_code(response) == "conflict"
    assert customer_a.key_client().get(f"/v1/sessions/{session_a.id}/qr.png").status_code == 409


def test_qr_answers_raw_string_png_and_expiry_when_waiting(customer_a, session_a):
    from django.utils import timezone

    Session.objects.filter(pk=session_a.id).update(
        status="qr_ready", qr="2@abc,def,ghi,jkl,WEB", qr_attempt=2, qr_expires_at=timezone.now()
    )
    body = customer_a.key_client().get(f"/v1/sessions/{session_a.id}/qr").json()
    assert body["qr"] == "2@abc,def,ghi,jkl,WEB" and body["attempt"] == 2
    assert body["image"].startswith("data:image/png;base64,")
    png = customer_a.key_client().get(f"/v1/sessions/{session_a.id}/qr.png")
    assert png["Content-Type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_disconnect_stops_on_the_worker_releases_it_and_fences(
    customer_a, session_a, worker, settings, django_capture_on_commit_callbacks
):
    settings.WORKER_STOP_WAIT = 0.2  # this test has no worker process to confirm
    with django_capture_on_commit_callbacks(execute=True):
        customer_a.key_client().post(f"/v1/sessions/{session_a.id}/connect")
    with django_capture_on_commit_callbacks(execute=True):
        response = customer_a.key_client().post(f"/v1/sessions/{session_a.id}/disconnect")
    assert response.status_code == 200
    assert response.json()["status"] == "disconnected" and response.json()["worker"] is None
    assert response.json()["worker_confirmed"] is False
    types = [type(command) for _, command in worker_commands(worker.worker_id)]
    assert types == [StartSession, StopSession, DropSession]
    session_a.refresh_from_db()
    assert session_a.generation == 2 and session_a.last_disconnect_reason == "stopped by the customer"


def test_disconnect_of_a_disconnected_session_is_409(customer_a, session_a):
    assert customer_a.key_client().post(f"/v1/sessions/{session_a.id}/disconnect").status_code == 409


def test_logout_drops_stored_credentials(
    customer_a, session_a, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.SNAPSHOT_DIR = str(tmp_path)
    (tmp_path / "blob").write_bytes(b"x")
    SessionSnapshot.objects.create(
        session=session_a, blob_name="blob", size=1, sha256="0", generation=0, worker_id="w"
    )
    Session.objects.filter(pk=session_a.id).update(phone="15551234567")
    with django_capture_on_commit_callbacks(execute=True):
        response = customer_a.key_client().post(f"/v1/sessions/{session_a.id}/logout")
    assert response.status_code == 200 and response.json()["phone"] == ""
    assert not SessionSnapshot.objects.filter(session=session_a).exists()
    assert not (tmp_path / "blob").exists()


def test_delete_removes_the_session(customer_a, session_a):
    assert customer_a.key_client().delete(f"/v1/sessions/{session_a.id}").status_code == 204
    assert not Session.objects.filter(pk=session_a.id).exists()
    assert customer_a.key_client().get(f"/v1/sessions/{session_a.id}").status_code == 404


def test_reset_attempts(customer_a, session_a):
    Session.objects.filter(pk=session_a.id).update(connection_attempts=7)
    response = customer_a.key_client().post(f"/v1/sessions/{session_a.id}/reset-attempts")
    assert response.json()["connection_attempts"] == 0


def test_stats_and_problematic(customer_a, session_a):
    Session.objects.filter(pk=session_a.id).update(
        status="error", last_disconnect_reason="boom", messages_sent=4
    )
    stats = customer_a.key_client().get("/v1/sessions/stats").json()
    assert stats["total"] == 1 and stats["by_status"]["error"] == 1 and stats["messages_sent"] == 4
    assert stats["problematic"] == 1
    problematic = customer_a.key_client().get("/v1/sessions/problematic").json()["results"]
    assert [s["id"] for s in problematic] == [session_a.id]


def test_pairing_code_needs_a_waiting_session_and_a_valid_phone(customer_a, session_a):
    url = f"/v1/sessions/{session_a.id}/pairing-code"
    assert customer_a.key_client().post(url, {"phone": "+1 555 123 4567"}, format="json").status_code == 409
    response = customer_a.key_client().post(url, {"phone": "call me"}, format="json")
    assert response.status_code == 400
    assert "phone" in response.json()["error"]["details"]["fields"]


def test_the_session_model_knows_exactly_the_wire_statuses():
    from shared.types import SessionStatus

    assert {(s.name, s.value) for s in Session.Status} == {(s.name, s.value) for s in SessionStatus}
