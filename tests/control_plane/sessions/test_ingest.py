"""Worker events applied by the ingester: once, in order, only from the current route."""

from datetime import UTC, datetime, timedelta

import pytest

from control_plane.core import redis as redis_client
from control_plane.core.models import ProcessedEvent
from control_plane.sessions.models import Session, SessionSnapshot
from shared import streams
from shared.commands import StartSession
from shared.events import CommandFailed, QrIssued, SessionStatusChanged
from tests.helpers import publish_event, run_ingester, worker_commands

pytestmark = pytest.mark.django_db


@pytest.fixture
def routed(customer_a, session_a, worker):
    Session.objects.filter(pk=session_a.id).update(
        worker_id=worker.worker_id, generation=3, status="connecting"
    )
    session_a.refresh_from_db()
    return session_a


def qr_event(session, attempt=1, generation=3):
    return QrIssued(
        session_id=session.id,
        generation=generation,
        qr=f"ref{attempt},k1,k2,k3,WEB",
        attempt=attempt,
        expires_at=datetime.now(UTC) + timedelta(seconds=20),
    )


def test_a_qr_event_makes_the_session_wait_for_a_scan(routed, worker):
    publish_event(qr_event(routed), source=worker.worker_id)
    assert run_ingester().counts["applied"] == 1
    routed.refresh_from_db()
    assert (routed.status, routed.qr, routed.qr_attempt) == ("qr_ready", "ref1,k1,k2,k3,WEB", 1)


def test_connected_records_the_phone_and_the_history(routed, worker):
    publish_event(qr_event(routed), source=worker.worker_id)
    publish_event(
        SessionStatusChanged(
            session_id=routed.id,
            generation=3,
            status="connected",
            phone="15551234567",
            platform="web",
            wa_version="2.3000",
        ),
        source=worker.worker_id,
    )
    run_ingester()
    routed.refresh_from_db()
    assert (routed.status, routed.phone, routed.platform, routed.qr) == (
        "connected",
        "15551234567",
        "web",
        "",
    )
    steps = list(routed.status_changes.order_by("created_at", "id").values_list("to_status", flat=True))
    assert steps[-2:] == ["qr_ready", "connected"]


def test_the_same_event_twice_is_applied_once(routed, worker):
    envelope = publish_event(qr_event(routed), source=worker.worker_id)
    redis_client.client().xadd(streams.EVENTS_STREAM, {"envelope": envelope.to_json()})  # redelivered
    counts = run_ingester().counts
    assert (counts["applied"], counts["duplicate"]) == (1, 1)
    assert ProcessedEvent.objects.filter(pk=envelope.id).count() == 1


def test_events_from_an_old_generation_or_another_worker_are_ignored(routed, worker, second_worker):
    publish_event(qr_event(routed, generation=2), source=worker.worker_id)
    publish_event(qr_event(routed), source=second_worker.worker_id)
    run_ingester()
    routed.refresh_from_db()
    assert routed.status == "connecting" and routed.qr == ""


def test_qr_timeout_frees_the_worker_with_the_reason(routed, worker):
    publish_event(
        SessionStatusChanged(session_id=routed.id, generation=3, status="disconnected", reason="qr_timeout"),
        source=worker.worker_id,
    )
    run_ingester()
    routed.refresh_from_db()
    assert (routed.status, routed.worker_id, routed.last_disconnect_reason) == (
        "disconnected",
        None,
        "qr_timeout",
    )
    assert routed.generation == 4  # fenced: later words from the old route are ignored


def test_logout_from_the_phone_drops_the_snapshot(routed, worker, settings, tmp_path):
    settings.SNAPSHOT_DIR = str(tmp_path)
    SessionSnapshot.objects.create(
        session=routed, blob_name="b", size=1, sha256="0", generation=3, worker_id=worker.worker_id
    )
    publish_event(
        SessionStatusChanged(session_id=routed.id, generation=3, status="disconnected", reason="logged_out"),
        source=worker.worker_id,
    )
    run_ingester()
    assert not SessionSnapshot.objects.filter(session=routed).exists()


def test_malformed_and_unknown_events_are_dead_lettered_and_the_rest_applied(routed, worker):
    client = redis_client.client()
    client.xadd(streams.EVENTS_STREAM, {"envelope": "{not json"})
    client.xadd(streams.EVENTS_STREAM, {"something": "else"})
    bogus = publish_event(StartSession(session_id=routed.id, generation=3), source=worker.worker_id)
    publish_event(qr_event(routed), source=worker.worker_id)
    counts = run_ingester().counts
    assert (counts["dead"], counts["applied"]) == (3, 1)
    dead = client.xrange(streams.EVENTS_DEAD_LETTER)
    assert len(dead) == 3
    assert any(bogus.id in fields["envelope"] and "no handler" in fields["reason"] for _, fields in dead)
    routed.refresh_from_db()
    assert routed.status == "qr_ready"


def test_a_start_refused_for_capacity_moves_to_another_worker(routed, worker, second_worker):
    publish_event(
        CommandFailed(
            command_id="c1",
            command_type="session.start",
            session_id=routed.id,
            code="capacity",
            reason="full",
        ),
        source=worker.worker_id,
    )

    run_ingester()
    routed.refresh_from_db()
    assert routed.worker_id == second_worker.worker_id and routed.status == "connecting"


def test_a_start_that_failed_otherwise_is_an_error(routed, worker):
    publish_event(
        CommandFailed(
            command_id="c1",
            command_type="session.start",
            session_id=routed.id,
            code="failed",
            reason="chromium would not start",
        ),
        source=worker.worker_id,
    )
    run_ingester()
    routed.refresh_from_db()
    assert routed.status == "error" and "chromium would not start" in routed.last_disconnect_reason
    assert routed.worker_id is None


def test_an_ingester_restarted_mid_stream_loses_and_duplicates_nothing(routed, worker):
    from control_plane.core import transport

    transport.events_group_ensure()
    first = [publish_event(qr_event(routed, attempt=n), source=worker.worker_id) for n in range(1, 4)]
    # The first ingester reads all three, applies one, and dies before acknowledging anything.
    read = transport.events_read(consumer="crashy", pending=False, count=10, block_ms=10)
    assert len(read) == 3
    from control_plane.core.ingest import ingest

    ingest(read[0].raw)
    later = publish_event(qr_event(routed, attempt=4), source=worker.worker_id)
    counts = run_ingester(consumer="crashy").counts  # the same consumer restarts
    assert counts["duplicate"] == 1 and counts["applied"] == 3
    assert ProcessedEvent.objects.filter(pk__in=[e.id for e in [*first, later]]).count() == 4
    routed.refresh_from_db()
    assert routed.qr_attempt == 4
    pending = redis_client.client().xpending(streams.EVENTS_STREAM, streams.EVENTS_GROUP)
    assert pending["pending"] == 0


def test_a_dead_ingesters_entries_are_claimed_by_another(routed, worker):
    from control_plane.core import transport

    transport.events_group_ensure()
    publish_event(qr_event(routed), source=worker.worker_id)
    assert len(transport.events_read(consumer="dead-one", pending=False, count=10, block_ms=10)) == 1
    claimed = transport.events_claim_stale(consumer="survivor", min_idle_ms=0, count=10)
    assert len(claimed) == 1


def test_connect_after_qr_timeout_starts_a_fresh_generation(
    customer_a, routed, worker, django_capture_on_commit_callbacks
):
    publish_event(
        SessionStatusChanged(session_id=routed.id, generation=3, status="disconnected", reason="qr_timeout"),
        source=worker.worker_id,
    )
    run_ingester()
    with django_capture_on_commit_callbacks(execute=True):
        assert customer_a.key_client().post(f"/v1/sessions/{routed.id}/connect").status_code == 202
    assert worker_commands(worker.worker_id)[-1][1].generation == 5
