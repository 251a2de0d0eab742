"""Recovery at start: restore the sessions the control plane still routes here.

Each assigned session is started from its local profile, else from the
stored snapshot (starts are bounded by ``START_CONCURRENCY``). A session
counts as ``restored`` once it is ``connected`` again within
``RECOVERY_TIMEOUT``; one that shows a QR (its credentials were not
accepted), stops, or times out is ``failed`` with the reason. Sessions the
control plane lists as stopped are ``skipped``. The results go to
``POST /v1/workers/{id}/sessions/recovery-status``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from shared.types import ProxySpec, SessionStatus
from worker.clients.control_plane import ControlPlaneClient
from worker.engine import EngineError
from worker.errors import WorkerError
from worker.runner import SessionRunner, StartOptions, describe
from worker.sessions import LiveSession, SessionRegistry
from worker.settings import WorkerSettings

log = logging.getLogger(__name__)
NOT_RESTARTED = {SessionStatus.DISCONNECTED, SessionStatus.INACTIVE, SessionStatus.ERROR}
POLL = 0.25


@dataclass(frozen=True)
class Result:
    """One line of the recovery report."""

    session_id: str
    status: str  # restored | failed | skipped
    source: str = "none"  # local | snapshot | none
    detail: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "status": self.status,
            "source": self.source,
            "detail": self.detail[:300],
        }


class Recovery:
    """Restores the assigned sessions and reports the outcome."""

    def __init__(
        self,
        *,
        client: ControlPlaneClient,
        registry: SessionRegistry,
        runner: SessionRunner,
        settings: WorkerSettings,
    ) -> None:
        self._client = client
        self._registry = registry
        self._runner = runner
        self._settings = settings

    async def run(self) -> list[Result]:
        started = time.monotonic()
        assigned = await self._client.assigned_sessions()
        results: list[Result] = []
        wanted: list[dict[str, Any]] = []
        for item in assigned:
            self._registry.fence(item["session_id"], int(item["generation"]))
            if item["status"] in NOT_RESTARTED:
                results.append(Result(item["session_id"], "skipped", detail=f"status is {item['status']}"))
            elif len(wanted) >= self._settings.capacity:
                results.append(Result(item["session_id"], "failed", detail="over this worker's capacity"))
            else:
                wanted.append(item)
        results += await asyncio.gather(*(self._restore(item) for item in wanted))
        report = await self._client.recovery_status([r.as_dict() for r in results])
        counts = {s: sum(1 for r in results if r.status == s) for s in ("restored", "failed", "skipped")}
        log.info("recovery done in %.1fs: %s (control plane: %s)", time.monotonic() - started, counts, report)
        return results

    async def _restore(self, item: dict[str, Any]) -> Result:
        session_id, generation = item["session_id"], int(item["generation"])
        began = time.monotonic()
        async with self._registry.lock(session_id):
            if self._registry.get(session_id) is not None:
                return Result(session_id, "skipped", detail="already running")
            live = self._registry.reserve(session_id, self._settings.profile_dir(session_id), generation)
            try:
                source = await self._runner.start(live, _start_options(item))
            except (EngineError, WorkerError) as exc:
                return Result(session_id, "failed", detail=f"start failed: {describe(exc)}")
        status, detail = await self._outcome(live, self._settings.recovery_timeout)
        seconds = time.monotonic() - began
        log.info("recovery of %s: %s from %s in %.1fs %s", session_id, status, source, seconds, detail)
        return Result(session_id, status, source, detail, round(seconds, 2))

    @staticmethod
    async def _outcome(live: LiveSession, within: float) -> tuple[str, str]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if live.connected.is_set():
                return "restored", ""
            if live.ended.is_set():
                reason = live.runtime.reason if live.runtime else None
                return "failed", f"the session stopped ({reason})"
            if live.status is SessionStatus.QR_READY:
                return "failed", "a new QR scan is needed (no credentials, or they were not accepted)"
            await asyncio.sleep(POLL)
        return "failed", f"not connected after {within:g}s (status {live.status.value})"


def _start_options(item: dict[str, Any]) -> StartOptions:
    """Restart an assigned session as the control plane routed it: same proxy (sticky),
    snapshot fetched when there is no local profile."""
    proxy = ProxySpec.model_validate(item["proxy"]) if item.get("proxy") else None
    return StartOptions(
        proxy=proxy, qr_max=int(item.get("qr_max") or 6), restore=bool(item.get("restore", True))
    )
