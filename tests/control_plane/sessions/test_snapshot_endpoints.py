"""Snapshot upload and download: streamed, size-limited, fenced by generation."""

import hashlib

import pytest

from control_plane.sessions.models import Session, SessionSnapshot
from tests.helpers import error_code, make_session

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _snapshot_dir(settings, tmp_path):
    settings.SNAPSHOT_DIR = str(tmp_path / "snapshots")


def put(worker, session_id, body: bytes, generation="1", **headers):
    extra = {"HTTP_X_SESSION_GENERATION": generation}
    extra.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    return worker.client().generic(
        "PUT",
        f"/v1/workers/{worker.worker_id}/sessions/{session_id}/snapshot",
        body,
        content_type="application/octet-stream",
        **extra,
    )


def test_upload_then_download_round_trips_the_bytes(worker, customer_a):
    make_session(customer_a.user, "shop-1", worker.worker_id)
    blob = b"\x00encrypted\xff" * 50_000
    response = put(worker, "shop-1", blob, x_snapshot_sha256=hashlib.sha256(blob).hexdigest())
    assert response.status_code == 200
    assert response.json()["size"] == len(blob)
    download = worker.client().get(f"/v1/workers/{worker.worker_id}/sessions/shop-1/snapshot")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == blob
    assert download["X-Snapshot-Sha256"] == hashlib.sha256(blob).hexdigest()


def test_a_newer_upload_replaces_the_old_one(worker, customer_a):
    make_session(customer_a.user, "shop-1", worker.worker_id)
    put(worker, "shop-1", b"first")
    put(worker, "shop-1", b"second")
    download = worker.client().get(f"/v1/workers/{worker.worker_id}/sessions/shop-1/snapshot")
    assert b"".join(download.streaming_content) == b"second"
    assert SessionSnapshot.objects.count() == 1


def test_a_stale_generation_is_refused_and_keeps_the_current_snapshot(worker, customer_a):
    make_session(customer_a.user, "shop-1", worker.worker_id)
    put(worker, "shop-1", b"current")
    Session.objects.filter(pk="shop-1").update(generation=2)
    response = put(worker, "shop-1", b"late upload from an old route", generation="1")
    assert response.status_code == 409
    assert error_code(response) == "conflict"
    assert SessionSnapshot.objects.get(session_id="shop-1").size == len(b"current")


def test_a_session_held_by_another_worker_is_404_both_ways(worker, second_worker, customer_a):
    make_session(customer_a.user, "theirs", second_worker.worker_id)
    assert put(worker, "theirs", b"x").status_code == 404
    response = worker.client().get(f"/v1/workers/{worker.worker_id}/sessions/theirs/snapshot")
    assert response.status_code == 404
    assert error_code(response) == "not_found"


def test_a_checksum_mismatch_is_refused_and_nothing_is_stored(worker, customer_a):
    make_session(customer_a.user, "shop-1", worker.worker_id)
    response = put(worker, "shop-1", b"abc", x_snapshot_sha256="0" * 64)
    assert response.status_code == 400
    assert not SessionSnapshot.objects.exists()


def test_an_oversized_snapshot_is_413(worker, customer_a, settings):
    settings.SNAPSHOT_MAX_BYTES = 1000
    make_session(customer_a.user, "shop-1", worker.worker_id)
    response = put(worker, "shop-1", b"x" * 1001)
    assert response.status_code == 413
    assert error_code(response) == "payload_too_large"
    assert not SessionSnapshot.objects.exists()


def test_missing_generation_header_or_wrong_content_type_are_refused(worker, customer_a):
    make_session(customer_a.user, "shop-1", worker.worker_id)
    url = f"/v1/workers/{worker.worker_id}/sessions/shop-1/snapshot"
    assert (
        worker.client().generic("PUT", url, b"x", content_type="application/octet-stream").status_code == 400
    )
    response = worker.client().generic(
        "PUT", url, b"{}", content_type="application/json", HTTP_X_SESSION_GENERATION="1"
    )
    assert response.status_code == 415


def test_no_snapshot_yet_is_404(worker, customer_a):
    make_session(customer_a.user, "shop-1", worker.worker_id)
    assert worker.client().get(f"/v1/workers/{worker.worker_id}/sessions/shop-1/snapshot").status_code == 404


def test_customers_cannot_reach_snapshots(worker, customer_a):
    make_session(customer_a.user, "shop-1", worker.worker_id)
    put(worker, "shop-1", b"secret")
    for client in (customer_a.jwt_client(), customer_a.key_client()):
        assert client.get(f"/v1/workers/{worker.worker_id}/sessions/shop-1/snapshot").status_code == 401
