"""Writes for session snapshots (uploaded by the worker holding the session)."""

from __future__ import annotations

from typing import BinaryIO

from django.db import transaction

from control_plane.core.errors import Conflict, NotFound
from control_plane.fleet.models import Worker
from control_plane.sessions import snapshots
from control_plane.sessions.models import Session, SessionSnapshot
from shared.ids import normalize_id


def _held_session(*, worker: Worker, session_id: str, lock: bool = False) -> Session:
    sessions = Session.objects.select_for_update(no_key=True) if lock else Session.objects
    session = sessions.filter(pk=normalize_id(session_id), worker=worker).first()
    if session is None:
        raise NotFound("This worker holds no such session.")
    return session


def snapshot_store(
    *, worker: Worker, session_id: str, generation: int, stream: BinaryIO, expected_sha256: str | None
) -> SessionSnapshot:
    """Store a new snapshot from the worker that holds the session at ``generation``.

    A worker fenced off by a newer generation (the session moved) is refused, so a
    late upload can never replace the snapshot of the session's new home.
    """
    session = _held_session(worker=worker, session_id=session_id)
    if generation != session.generation:
        raise Conflict(
            f"Stale generation {generation}: the session is at generation {session.generation}.",
            details={"generation": session.generation},
        )
    blob_name = f"{session.id}.snapshot"
    # Written under a per-generation name first, so a racing writer can never mix bytes.
    staging = f"{session.id}.{generation}.{worker.id}.part"
    size, sha = snapshots.store_stream(stream=stream, blob_name=staging, expected_sha256=expected_sha256)
    with transaction.atomic():
        session = _held_session(worker=worker, session_id=session_id, lock=True)
        if generation != session.generation:
            snapshots.delete_blob(staging)
            raise Conflict("The session moved while the snapshot was uploading.")
        snapshots.blob_path(staging).replace(snapshots.blob_path(blob_name))
        snapshot, _ = SessionSnapshot.objects.update_or_create(
            session=session,
            defaults={
                "blob_name": blob_name,
                "size": size,
                "sha256": sha,
                "generation": generation,
                "worker_id": worker.id,
            },
        )
    return snapshot


def snapshot_for_worker(*, worker: Worker, session_id: str) -> SessionSnapshot:
    session = _held_session(worker=worker, session_id=session_id)
    snapshot = SessionSnapshot.objects.filter(session=session).first()
    if snapshot is None or not snapshots.blob_path(snapshot.blob_name).exists():
        raise NotFound("No snapshot is stored for this session.")
    return snapshot


def snapshot_delete(*, session: Session) -> None:
    """Drop a session's stored credentials (logout, delete)."""
    snapshot = SessionSnapshot.objects.filter(session=session).first()
    if snapshot is not None:
        blob_name = snapshot.blob_name
        snapshot.delete()
        transaction.on_commit(lambda: snapshots.delete_blob(blob_name))
