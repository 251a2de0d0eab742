"""The control plane's worker endpoints, over one shared httpx client.

Every call retries with exponential backoff while the control plane is down
(transport errors, 5xx, 429). A refused worker token (401) triggers one
re-registration, then the call is tried again with the new token. Errors
leave as :mod:`worker.errors` types, mapped from httpx with ``raise ... from``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from worker import identity as identity_store
from worker.engine import Backoff
from worker.errors import (
    NotFound,
    PermanentError,
    TokenRefused,
    WorkerError,
    from_httpx,
    from_response,
)
from worker.identity import Identity
from worker.settings import WorkerSettings

log = logging.getLogger(__name__)
CALL_BACKOFF = Backoff(initial=0.5, factor=2.0, maximum=5.0, attempts=4)
REGISTER_BACKOFF = Backoff(initial=0.5, factor=2.0, maximum=30.0, attempts=1_000_000)
SNAPSHOT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
MAX_SNAPSHOT_BYTES = 4 * 1024**3


@dataclass(frozen=True)
class Registration:
    """What registration answered."""

    worker_id: str
    heartbeat_interval: float
    recovery_required: bool
    assigned_session_count: int
    created: bool


class ControlPlaneClient:
    """Register, heartbeat, assigned sessions, recovery status, snapshots."""

    def __init__(self, http: httpx.AsyncClient, settings: WorkerSettings, version: str) -> None:
        self._http = http
        self._settings = settings
        self._version = version
        self._identity: Identity | None = identity_store.load(settings.data_dir)
        self._register_lock = asyncio.Lock()

    @property
    def worker_id(self) -> str:
        if self._identity is None:
            raise RuntimeError("the worker has not registered yet")
        return self._identity.worker_id

    # -- registration --------------------------------------------------------------
    async def register(self, *, backoff: Backoff = REGISTER_BACKOFF) -> Registration:
        """Register (or re-register) with the enrollment token; retries while the control plane is down."""
        wanted = self._settings.worker_id or (self._identity.worker_id if self._identity else None)
        body: dict[str, Any] = {
            "name": self._settings.worker_name,
            "url": self._settings.worker_url,
            "capacity": self._settings.capacity,
            "version": self._version,
            "environment": self._settings.env,
        }
        if wanted:
            body["worker_id"] = wanted
        headers = {"Authorization": f"Bearer {self._settings.enrollment_token}"}
        response = await self._send(
            "POST", "/v1/workers/register", "register", backoff, json=body, headers=headers
        )
        data = response.json()
        self._identity = Identity(worker_id=data["worker_id"], token=data["token"])
        await asyncio.to_thread(identity_store.save, self._settings.data_dir, self._identity)
        log.info(
            "registered as %s (%s; %d sessions assigned)",
            data["worker_id"],
            "new" if response.status_code == 201 else "known",
            data["assigned_session_count"],
        )
        return Registration(
            worker_id=data["worker_id"],
            heartbeat_interval=float(data["heartbeat_interval"]),
            recovery_required=bool(data["recovery_required"]),
            assigned_session_count=int(data["assigned_session_count"]),
            created=response.status_code == 201,
        )

    async def _reregister(self, refused_token: str) -> None:
        async with self._register_lock:
            if self._identity is not None and self._identity.token != refused_token:
                return  # another call already registered again
            log.warning("the control plane refused this worker's token: registering again")
            await self.register()

    # -- worker endpoints ------------------------------------------------------------
    async def heartbeat(self, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._call("POST", "heartbeat", "heartbeat", json=body)
        result: dict[str, Any] = response.json()
        return result

    async def assigned_sessions(self) -> list[dict[str, Any]]:
        response = await self._call("GET", "sessions/assigned", "assigned sessions")
        sessions: list[dict[str, Any]] = response.json()["sessions"]
        return sessions

    async def recovery_status(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        response = await self._call(
            "POST", "sessions/recovery-status", "recovery status", json={"results": results}
        )
        result: dict[str, Any] = response.json()
        return result

    async def upload_snapshot(self, session_id: str, generation: int, blob: bytes) -> dict[str, Any]:
        """PUT the encrypted blob; 409 (:class:`Conflict`) when the generation is stale."""
        headers = {
            "Content-Type": "application/octet-stream",
            "X-Session-Generation": str(generation),
            "X-Snapshot-Sha256": hashlib.sha256(blob).hexdigest(),
        }
        response = await self._call(
            "PUT",
            f"sessions/{session_id}/snapshot",
            "snapshot upload",
            content=blob,
            headers=headers,
            timeout=SNAPSHOT_TIMEOUT,
        )
        result: dict[str, Any] = response.json()
        return result

    async def download_snapshot(self, session_id: str) -> bytes | None:
        """The stored blob (checked against its SHA-256 header), or None when there is none."""
        try:
            response = await self._call(
                "GET", f"sessions/{session_id}/snapshot", "snapshot download", timeout=SNAPSHOT_TIMEOUT
            )
        except NotFound:
            return None
        blob = response.content
        expected = response.headers.get("X-Snapshot-Sha256")
        if len(blob) > MAX_SNAPSHOT_BYTES or (expected and hashlib.sha256(blob).hexdigest() != expected):
            raise PermanentError(f"snapshot download of {session_id}: damaged (size or checksum mismatch)")
        return blob

    # -- plumbing ---------------------------------------------------------------------
    async def _call(
        self, method: str, path: str, what: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """A worker-token call on ``/v1/workers/<id>/<path>``; one re-registration on 401."""
        for first_try in (True, False):
            identity = self._identity
            if identity is None:
                await self.register()
                identity = self._identity
                assert identity is not None
            auth = {"Authorization": f"Bearer {identity.token}", **(headers or {})}
            url = f"/v1/workers/{identity.worker_id}/{path}"
            try:
                return await self._send(method, url, what, CALL_BACKOFF, headers=auth, **kwargs)
            except TokenRefused:
                if not first_try:
                    raise
                await self._reregister(identity.token)
        raise AssertionError("unreachable")

    async def _send(
        self, method: str, url: str, what: str, backoff: Backoff, **kwargs: Any
    ) -> httpx.Response:
        for attempt in range(1, backoff.attempts + 1):
            error: WorkerError
            cause: BaseException | None = None
            try:
                response = await self._http.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                error, cause = from_httpx(exc, what), exc
            else:
                if response.is_success:
                    return response
                error = from_response(response, what)
            if not error.retryable or attempt == backoff.attempts:
                raise error from cause
            delay = backoff.delay(attempt)
            log.warning("%s failed (%s); retry %d in %.1fs", what, error.message, attempt, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")
