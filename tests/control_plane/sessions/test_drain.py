"""Draining a worker moves its sessions elsewhere, a few at a time, and reports progress."""

import pytest

from control_plane.fleet.models import Worker
from control_plane.sessions.drain import drain_tick
from control_plane.sessions.models import Session, SessionMove, SessionSnapshot
from shared.commands import DropSession, StartSession, StopSession
from shared.events import SessionStatusChanged
from tests.helpers import publish_event, run_ingester, worker_commands

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.WORKER_STOP_WAIT = 0.1  # no worker process answers in these tests
    settings.DRAIN_CONCURRENCY = 2


def linked(owner, worker_id, session_id):
    session = Session.objects.create(
        id=session_id,
        owner=owner,
        name=session_id,
        worker_id=worker_id,
        status="connected",
        generation=1,
        phone="1555000",
    )
    SessionSnapshot.objects.create(
        session=session, blob_name="x", size=1, sha256="0", generation=1, worker_id=worker_id
    )
    return session


def test_a_drain_moves_sessions_two_at_a_time_and_ends_drained(
    customer_a, operator, worker, second_worker, django_capture_on_commit_callbacks
):
    for n in range(3):
        linked(customer_a.user, worker.worker_id, f"s-{n}")
    with django_capture_on_commit_callbacks(execute=True):
        response = operator.jwt_client().post(f"/v1/workers/{worker.worker_id}/drain")
    assert response.json()["drain"]["counts"]["pending"] == 3
    with django_capture_on_commit_callbacks(execute=True):
        drain_tick()
    moved = Session.objects.filter(worker_id=second_worker.worker_id)
    assert moved.count() == 2 and all(s.status == "reconnecting" for s in moved)
    old = [type(c) for _, c in worker_commands(worker.worker_id)]
    assert old.count(StopSession) == 2 and old.count(DropSession) == 2
    starts = [c for _, c in worker_commands(second_worker.worker_id)]
    assert all(isinstance(c, StartSession) and c.restore for c in starts) and len(starts) == 2
    drain_tick()  # the two moves are still starting: no third one yet
    assert SessionMove.objects.filter(state="pending").count() == 1
    for session in moved:
        publish_event(
            SessionStatusChanged(session_id=session.id, generation=session.generation, status="connected"),
            source=second_worker.worker_id,
        )
    run_ingester()
    with django_capture_on_commit_callbacks(execute=True):
        drain_tick()  # two done, the third starts
    report = operator.jwt_client().get(f"/v1/workers/{worker.worker_id}/drain").json()
    assert report["counts"]["done"] == 2 and report["counts"]["starting"] == 1
    third = Session.objects.get(worker_id=second_worker.worker_id, status="reconnecting")
    publish_event(
        SessionStatusChanged(session_id=third.id, generation=third.generation, status="connected"),
        source=second_worker.worker_id,
    )
    run_ingester()
    drain_tick()
    report = operator.jwt_client().get(f"/v1/workers/{worker.worker_id}/drain").json()
    assert (report["state"], report["sessions_left"], report["counts"]["done"]) == ("drained", 0, 3)
    assert Worker.objects.get(pk=worker.worker_id).drained_at is not None
    history = list(third.status_changes.values_list("reason", flat=True))
    assert any("drain" in reason for reason in history)


def test_with_nowhere_to_go_sessions_keep_running_and_the_move_waits_for_room(
    customer_a, operator, worker, request
):
    session = linked(customer_a.user, worker.worker_id, "stuck")
    operator.jwt_client().post(f"/v1/workers/{worker.worker_id}/drain")
    drain_tick()
    drain_tick()
    session.refresh_from_db()
    assert (session.status, session.worker_id) == ("connected", worker.worker_id)
    move = SessionMove.objects.get(session=session)
    assert move.state == "pending" and "no other worker has room" in move.detail
    assert worker_commands(worker.worker_id) == []
    report = operator.jwt_client().get(f"/v1/workers/{worker.worker_id}/drain").json()
    assert (report["state"], report["sessions_left"]) == ("draining", 1)

    # A worker with room comes online: the next tick moves the session.
    newcomer = request.getfixturevalue("second_worker")
    drain_tick()
    move.refresh_from_db()
    assert (move.state, move.to_worker_id, move.detail) == ("starting", newcomer.worker_id, "")
    assert Session.objects.get(pk=session.pk).worker_id == newcomer.worker_id


def test_a_session_on_a_phone_of_the_draining_worker_is_left_running(
    customer_a, operator, worker, second_worker
):
    from control_plane.proxies.models import Proxy

    phone = Proxy.objects.create(
        source="adb", worker_id=worker.worker_id, device_serial="P1", host="127.0.0.1", port=20001
    )
    session = linked(customer_a.user, worker.worker_id, "on-phone")
    Session.objects.filter(pk=session.pk).update(proxy=phone)
    operator.jwt_client().post(f"/v1/workers/{worker.worker_id}/drain")
    drain_tick()
    move = SessionMove.objects.get(session=session)
    assert move.state == "failed" and "phone proxy" in move.detail
    assert Session.objects.get(pk=session.pk).worker_id == worker.worker_id


def test_cancelling_a_drain_cancels_the_moves_not_started(
    customer_a, operator, worker, second_worker, settings
):
    settings.DRAIN_CONCURRENCY = 1
    for n in range(3):
        linked(customer_a.user, worker.worker_id, f"s-{n}")
    operator.jwt_client().post(f"/v1/workers/{worker.worker_id}/drain")
    drain_tick()
    response = operator.jwt_client().post(f"/v1/workers/{worker.worker_id}/drain/cancel")
    assert response.json()["status"] == "online"
    states = sorted(SessionMove.objects.values_list("state", flat=True))
    assert states == ["cancelled", "cancelled", "starting"]
    assert Session.objects.filter(worker_id=worker.worker_id).count() == 2


def test_failovers_are_recorded_as_moves(
    customer_a, worker, second_worker, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from control_plane.fleet.monitor import fleet_health_check

    session = linked(customer_a.user, worker.worker_id, "s-1")
    Worker.objects.filter(pk=worker.worker_id).update(last_heartbeat_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        fleet_health_check()
    move = SessionMove.objects.get(session=session)
    assert (move.reason, move.state, move.to_worker_id) == ("failover", "starting", second_worker.worker_id)
