"""The session supervisor: turns page signals and timer ticks into statuses and events.

Mixed into :class:`~worker.engine.runtime.SessionRuntime`; it owns the policy
(QR counting, pairing-code renewal, reconnect by reload, relaunch after a
crash, bounded retries) while the runtime owns the browser and the public API.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.async_api import Page

from shared.events import MessageAck, MessageReceived, QrIssued
from shared.types import AckLevel, SessionStatus
from worker.engine import processes
from worker.engine.adapter import (
    AckSignal,
    InstalledSignal,
    Link,
    LogoutSignal,
    MessageSignal,
    PageAdapter,
    PageInfo,
    QrSignal,
    StateSignal,
    SyncedSignal,
    classify,
)
from worker.engine.browser import BrowserSession
from worker.engine.config import EngineConfig
from worker.engine.errors import EngineError, PageError, PairingError
from worker.engine.stream import EventStream

log = logging.getLogger(__name__)
TICK = 0.5


class BrowserGone:
    """Chromium died, or its page crashed or closed."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class Supervision:
    """Signal handling and self-healing for one session (see the module docstring)."""

    session_id: str
    config: EngineConfig
    qr_max: int
    pairing_phone: str | None
    _stream: EventStream
    _signals: asyncio.Queue[tuple[int, Any]]
    _browser: BrowserSession | None
    _adapter: PageAdapter | None
    _epoch: int
    _status: SessionStatus
    _info: PageInfo
    _stopping: bool
    _done: bool
    _logging_out: bool
    _linked: bool
    _page_synced: bool
    _qr_count: int
    _qr_deadline: float
    _codes: int
    _code_deadline: float | None
    _lost_at: float | None
    _reconnects: int
    _next_reconnect: float
    _relaunches: int

    async def _shutdown(self, status: SessionStatus, reason: str, *, wipe: bool = False) -> None:
        raise NotImplementedError

    def _set_status(self, status: SessionStatus, reason: str | None = None) -> None:
        raise NotImplementedError

    def _page(self) -> Page | None:
        raise NotImplementedError

    async def _open_browser(self) -> None:
        raise NotImplementedError

    async def _close_browser(self) -> None:
        raise NotImplementedError

    async def request_pairing_code(self, phone: str) -> str:
        raise NotImplementedError

    async def _supervise(self) -> None:
        try:
            while not self._done:
                try:
                    epoch, item = await asyncio.wait_for(self._signals.get(), TICK)
                except TimeoutError:
                    await self._on_tick()
                    continue
                if epoch == self._epoch:
                    await self._handle(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must end in status error, never in a silent dead task
            log.exception("session %s: supervisor failed", self.session_id)
            await self._shutdown(SessionStatus.ERROR, f"internal_error: {exc}")

    async def _handle(self, item: Any) -> None:
        if isinstance(item, BrowserGone):
            await self._recover(item.reason)
        elif isinstance(item, StateSignal):
            await self._on_state(item)
        elif isinstance(item, QrSignal):
            await self._on_qr(item.qr)
        elif isinstance(item, SyncedSignal | InstalledSignal):
            await self._on_info(item.info, synced=isinstance(item, SyncedSignal))
        elif isinstance(item, MessageSignal):
            self._stream.emit(MessageReceived, **asdict(item))
        elif isinstance(item, AckSignal) and item.ack is not AckLevel.SENT:
            self._stream.emit(MessageAck, wa_id=item.wa_id, ack=item.ack, at=datetime.now(UTC))
        elif isinstance(item, LogoutSignal) and self._linked and not self._logging_out:
            await self._shutdown(SessionStatus.DISCONNECTED, "logged_out", wipe=True)

    async def _on_info(self, info: PageInfo, *, synced: bool) -> None:
        if synced or info.has_synced:
            self._info = info
            self._linked = self._page_synced = True
            self._qr_count = self._codes = self._reconnects = self._relaunches = 0
            self._lost_at = self._code_deadline = None
            self._set_status(SessionStatus.CONNECTED)
        elif classify(info.state) in (Link.NEEDS_QR, Link.QR_EXHAUSTED):
            await self._on_state(StateSignal(classify(info.state), info.state or ""))

    async def _on_state(self, signal: StateSignal) -> None:
        link = signal.link
        if link is Link.ONLINE:
            if self._page_synced and self._status is SessionStatus.RECONNECTING:
                self._lost_at = None
                self._set_status(SessionStatus.CONNECTED)
        elif link in (Link.NEEDS_QR, Link.QR_EXHAUSTED) and self._linked and not self._logging_out:
            # A linked session asking for a QR again has lost its login (unlinked on the phone).
            await self._shutdown(SessionStatus.DISCONNECTED, "logged_out", wipe=True)
        elif link in (Link.NEEDS_QR, Link.QR_EXHAUSTED):
            if self.pairing_phone and self._codes == 0 and not self._linked:
                await self._auto_pairing_code()
            elif link is Link.QR_EXHAUSTED and self._code_deadline is None:
                await self._on_idle_qr()
        elif link is Link.CONNECTING:
            if self._status is SessionStatus.CONNECTED:
                self._mark_unsettled(self.config.reconnect_grace)
                self._set_status(SessionStatus.RECONNECTING, "connection_lost")
            elif self._status is SessionStatus.QR_READY and self._lost_at is None:
                self._mark_unsettled(self.config.reconnect_grace)
        elif link is Link.CONFLICT:
            await self._shutdown(SessionStatus.DISCONNECTED, "conflict")
        else:
            await self._shutdown(SessionStatus.ERROR, signal.state.lower())

    def _mark_unsettled(self, grace: float) -> None:
        """The page is neither showing a QR nor connected: reload it if that lasts ``grace``."""
        self._lost_at = time.monotonic()
        self._next_reconnect = grace

    async def _on_idle_qr(self) -> None:
        if self._qr_count >= self.qr_max:
            await self._shutdown(SessionStatus.DISCONNECTED, "qr_timeout")
            return
        page = self._page()
        if page is not None and self._adapter is not None:
            try:
                await self._adapter.refresh_qr(page)
            except PageError as exc:
                log.warning("session %s: QR refresh failed: %s", self.session_id, exc)

    async def _on_qr(self, qr: str) -> None:
        if self._linked:
            return
        self._qr_count += 1
        if self._qr_count > self.qr_max:
            await self._shutdown(SessionStatus.DISCONNECTED, "qr_timeout")
            return
        self._lost_at = None  # a QR on screen: the page is settled
        self._qr_deadline = time.monotonic() + self.config.qr_ttl
        expires = datetime.now(UTC) + timedelta(seconds=self.config.qr_ttl)
        self._stream.emit(QrIssued, qr=qr, attempt=self._qr_count, expires_at=expires)
        self._set_status(SessionStatus.QR_READY)

    async def _auto_pairing_code(self) -> None:
        assert self.pairing_phone is not None
        try:
            await self.request_pairing_code(self.pairing_phone)
        except PairingError as exc:
            log.warning("session %s: pairing code failed: %s", self.session_id, exc)
            self._code_deadline = time.monotonic() + self.config.reconnect.initial

    async def _on_tick(self) -> None:
        now = time.monotonic()
        if self._linked or self._status not in (SessionStatus.QR_READY, SessionStatus.RECONNECTING):
            pass
        elif self._code_deadline is not None and now > self._code_deadline:
            if self._codes >= self.qr_max:
                await self._shutdown(SessionStatus.DISCONNECTED, "qr_timeout")
            else:
                await self._auto_pairing_code()
            return
        elif self._qr_count >= self.qr_max and now > self._qr_deadline + min(5.0, self.config.qr_ttl):
            # The page stopped rotating without going idle: the last code has expired anyway.
            await self._shutdown(SessionStatus.DISCONNECTED, "qr_timeout")
            return
        if self._lost_at is not None and now - self._lost_at >= self._next_reconnect:
            await self._reload_offline_page()

    async def _reload_offline_page(self) -> None:
        """The page stayed offline past the grace period: reload it, with backoff, then give up."""
        assert self._lost_at is not None
        self._reconnects += 1
        backoff = self.config.reconnect
        if self._reconnects > backoff.attempts:
            await self._shutdown(
                SessionStatus.ERROR, f"connection_lost: still offline after {backoff.attempts} reloads"
            )
            return
        self._next_reconnect = time.monotonic() - self._lost_at + backoff.delay(self._reconnects)
        log.info("session %s: offline, reloading the page (attempt %d)", self.session_id, self._reconnects)
        try:
            assert self._browser is not None
            self._page_synced = False
            await self._browser.reload()
        except (PageError, AssertionError) as exc:
            await self._recover(f"reload_failed: {exc}")

    async def _recover(self, reason: str) -> None:
        """Chromium or its page died: relaunch from the same profile, with backoff."""
        if self._stopping:
            return
        self._set_status(SessionStatus.RECONNECTING, "browser_crashed")
        await self._close_browser()
        processes.reap_zombies()
        backoff = self.config.relaunch
        while self._relaunches < backoff.attempts:
            self._relaunches += 1
            await asyncio.sleep(backoff.delay(self._relaunches))
            try:
                await self._open_browser()
            except EngineError as exc:
                reason = exc.reason
                await self._close_browser()
                continue
            self._mark_unsettled(self.config.timeouts.page_ready)
            return
        await self._shutdown(
            SessionStatus.ERROR, f"browser_crashed: gave up after {backoff.attempts} relaunches ({reason})"
        )
