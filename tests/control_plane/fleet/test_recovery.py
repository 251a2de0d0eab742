"""Recovery: a restarted worker lists its sessions and reports what it restored."""

import pytest

from control_plane.fleet.models import WorkerEvent
from control_plane.sessions.models import Session
from tests.helpers import error_code, make_session

pytestmark = pytest.mark.django_db


def test_assigned_sessions_lists_only_this_workers_sessions(worker, second_worker, customer_a, customer_b):
    make_session(customer_a.user, "a-1", worker.worker_id)
    make_session(customer_b.user, "b-1", worker.worker_id, status="qr_ready")
    make_session(customer_a.user, "a-2", second_worker.worker_id)
    body = worker.client().get(f"/v1/workers/{worker.worker_id}/sessions/assigned").json()
    assert body["count"] == 2
    assert {s["session_id"] for s in body["sessions"]} == {"a-1", "b-1"}
    assert all(s["generation"] == 1 for s in body["sessions"])
    assert all(s["restore"] is False and s["proxy"] is None for s in body["sessions"])


def test_assigned_sessions_carry_their_proxy_with_credentials_and_the_snapshot_flag(worker, customer_a):
    from control_plane.proxies.services import proxy_create
    from control_plane.sessions.models import Session, SessionSnapshot

    proxy = proxy_create(host="10.0.0.5", port=3128, username="u", password="pw-123")
    session = make_session(customer_a.user, "a-1", worker.worker_id)
    Session.objects.filter(pk=session.pk).update(proxy=proxy)
    SessionSnapshot.objects.create(
        session=session, blob_name="b", size=1, sha256="0", generation=1, worker_id=worker.worker_id
    )
    (item,) = worker.client().get(f"/v1/workers/{worker.worker_id}/sessions/assigned").json()["sessions"]
    assert item["restore"] is True
    assert item["proxy"] == {
        "server": "http://10.0.0.5:3128",
        "username": "u",
        "password": "pw-123",
        "proxy_id": proxy.id,
    }


def test_a_worker_cannot_list_another_workers_sessions(worker, second_worker):
    response = worker.client().get(f"/v1/workers/{second_worker.worker_id}/sessions/assigned")
    assert response.status_code == 403


def test_recovery_status_is_recorded_per_session_and_visible_to_operators(
    worker, second_worker, customer_a, operator
):
    make_session(customer_a.user, "a-1", worker.worker_id)
    make_session(customer_a.user, "a-2", worker.worker_id)
    make_session(customer_a.user, "moved", second_worker.worker_id)
    response = worker.client().post(
        f"/v1/workers/{worker.worker_id}/sessions/recovery-status",
        {
            "results": [
                {"session_id": "a-1", "status": "restored", "source": "local"},
                {"session_id": "a-2", "status": "failed", "source": "snapshot", "detail": "snapshot corrupt"},
                {"session_id": "moved", "status": "restored", "source": "local"},
            ]
        },
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["recorded"] == ["a-1", "a-2"]
    assert response.json()["ignored"] == ["moved"]
    assert Session.objects.get(pk="a-1").recovery_status == "restored"
    assert Session.objects.get(pk="a-2").recovery_detail == "snapshot: snapshot corrupt"
    assert Session.objects.get(pk="moved").recovery_status == ""
    event = WorkerEvent.objects.get(worker_id=worker.worker_id, kind="recovery")
    assert (event.details["restored"], event.details["failed"]) == (2, 1)
    events = operator.jwt_client().get(f"/v1/workers/{worker.worker_id}").json()["events"]
    assert events[0]["kind"] == "recovery"


def test_malformed_recovery_report_is_refused(worker):
    for body in [{}, {"results": [{"session_id": "a-1", "status": "fine"}]}, {"results": "all good"}]:
        response = worker.client().post(
            f"/v1/workers/{worker.worker_id}/sessions/recovery-status", body, format="json"
        )
        assert response.status_code == 400
        assert error_code(response) == "validation_error"
