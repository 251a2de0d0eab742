"""One live WhatsApp session: its Chromium, its page adapter, its lifecycle.

A runtime owns one profile directory and at most one Chromium at a time. A
supervisor task turns what the page reports into status changes and events,
keeps the session alive (the page reconnects on its own; a page that stays
offline is reloaded with backoff; a dead Chromium is relaunched from the
same profile) and gives up, with status ``error``, after bounded retries.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from playwright.async_api import Page, Playwright

from shared.events import (
    MessageAck,
    MessageReceived,
    PairingCodeIssued,
    QrIssued,
    SessionEvent,
    SessionStatusChanged,
)
from shared.types import AckLevel, MediaSpec, MessageKind, ProxySpec, SessionStatus
from worker.engine import processes
from worker.engine.adapter import (
    TRANSIENT_STATES,
    UNPAIRED_STATES,
    AckSignal,
    InstalledSignal,
    LogoutSignal,
    MessageSignal,
    PageAdapter,
    PageInfo,
    QrSignal,
    Signal,
    StateSignal,
    SyncedSignal,
)
from worker.engine.browser import BrowserSession
from worker.engine.config import EngineConfig
from worker.engine.errors import EngineError, NotConnectedError, PageError, PairingError, SendError
from worker.engine.snapshot import snapshot_profile

log = logging.getLogger(__name__)
TICK = 0.5
_END = object()


class _BrowserGone:
    def __init__(self, reason: str) -> None:
        self.reason = reason


class SessionRuntime:
    """Drive one session's WhatsApp Web in its own Chromium (see docs/engine.md)."""

    def __init__(
        self,
        *,
        session_id: str,
        profile_dir: Path,
        playwright: Playwright,
        config: EngineConfig,
        proxy: ProxySpec | None = None,
        generation: int = 0,
        qr_max: int = 6,
        pairing_phone: str | None = None,
    ) -> None:
        self.session_id = session_id
        self.profile_dir = Path(profile_dir)
        self.config = config
        self.proxy = proxy
        self.generation = generation
        self.qr_max = qr_max
        self.pairing_phone = pairing_phone
        self._playwright = playwright
        self._events: asyncio.Queue[Any] = asyncio.Queue()
        self._signals: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
        self._browser: BrowserSession | None = None
        self._adapter: PageAdapter | None = None
        self._epoch = 0
        self._supervisor: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()
        self._status = SessionStatus.DISCONNECTED
        self._reason: str | None = None
        self._info = PageInfo(installed=False)
        self._reset_counters()

    def _reset_counters(self) -> None:
        self._stopping = False
        self._done = False
        self._logging_out = False
        self._linked = False  # the session has been logged in during this run
        self._page_synced = False  # the current page finished its sync (reset on reload/relaunch)
        self._qr_count = 0
        self._qr_deadline = 0.0
        self._codes = 0
        self._code_deadline: float | None = None
        self._lost_at: float | None = None
        self._reconnects = 0
        self._next_reconnect = 0.0
        self._relaunches = 0

    # -- public surface ---------------------------------------------------------
    @property
    def status(self) -> SessionStatus:
        return self._status

    @property
    def reason(self) -> str | None:
        return self._reason

    @property
    def phone(self) -> str | None:
        return self._info.phone

    @property
    def platform(self) -> str | None:
        return self._info.platform

    @property
    def wa_version(self) -> str | None:
        return self._info.wa_version

    @property
    def running(self) -> bool:
        return self._supervisor is not None and not self._supervisor.done()

    def browser_pids(self) -> list[int]:
        """Every process of this session's Chromium (for per-session PSS)."""
        return self._browser.pids() if self._browser is not None else []

    async def events(self) -> AsyncIterator[SessionEvent]:
        """Events in order; the stream ends when the runtime stops for good."""
        while True:
            item = await self._events.get()
            if item is _END:
                return
            yield item

    async def start(self) -> None:
        """Launch Chromium and open WhatsApp Web; returns once the adapter is attached."""
        if self.running:
            raise EngineError("session already running")
        self._reset_counters()
        self._set_status(SessionStatus.CONNECTING)
        try:
            await self._open_with_retries()
        except EngineError as exc:
            await self._shutdown(SessionStatus.ERROR, f"launch_failed: {exc.reason}")
            raise
        self._supervisor = asyncio.create_task(self._supervise(), name=f"session-{self.session_id}")

    async def stop(self) -> None:
        """Close Chromium and keep the profile (the session can start again without a scan)."""
        if self._done and not self.running:
            return
        await self._shutdown(SessionStatus.DISCONNECTED, "stopped")

    async def logout(self) -> None:
        """Unlink from the phone (when the page is up and linked) and wipe the profile."""
        page = self._page()
        if page is not None and self._linked and self._adapter is not None:
            self._logging_out = True
            try:
                await self._adapter.logout(page)
            except (PageError, TimeoutError) as exc:
                log.warning("session %s: logout did not reach WhatsApp (%s)", self.session_id, exc)
        await self._shutdown(SessionStatus.DISCONNECTED, "logout", wipe=True)

    async def send(
        self, *, to: str, kind: MessageKind, text: str | None, media: MediaSpec | None, caption: str | None
    ) -> str:
        """Send one message; returns WhatsApp's message id or raises :class:`SendError`."""
        page = self._page()
        if page is None or self._adapter is None or self._status is not SessionStatus.CONNECTED:
            raise SendError("not_connected", f"session is {self._status.value}", retryable=True)
        async with self._send_lock:  # WhatsApp Web's send path is not safe to run concurrently
            return await self._adapter.send(page, to=to, kind=kind, text=text, media=media, caption=caption)

    async def request_pairing_code(self, phone: str) -> str:
        """Ask the page for a code to type on ``phone`` instead of scanning; ``ABCD-EFGH``."""
        page = self._page()
        waiting = self._status in (SessionStatus.CONNECTING, SessionStatus.QR_READY)
        if page is None or self._adapter is None or not waiting or self._linked:
            raise PairingError(f"session is not waiting for a link (status {self._status.value})")
        code = await self._adapter.request_pairing_code(page, phone)
        code = code if "-" in code else f"{code[:4]}-{code[4:]}"
        self.pairing_phone = phone
        self._codes += 1
        self._code_deadline = time.monotonic() + self.config.pairing_code_ttl
        expires = datetime.now(UTC) + timedelta(seconds=self.config.pairing_code_ttl)
        self._emit(PairingCodeIssued, code=code, phone=phone, expires_at=expires)
        if self._status is not SessionStatus.QR_READY:
            self._set_status(SessionStatus.QR_READY)
        return code

    async def snapshot(self, key: bytes) -> bytes:
        """An encrypted snapshot of the profile, consistent even while the session runs."""
        return await asyncio.to_thread(
            snapshot_profile, self.profile_dir, key, freeze_pids=self.browser_pids()
        )

    # -- browser ------------------------------------------------------------------
    def _page(self) -> Page | None:
        return self._browser.page if self._browser is not None and self._browser.alive else None

    async def _open_browser(self) -> None:
        self._epoch += 1
        self._page_synced = False
        epoch = self._epoch
        self._adapter = PageAdapter(partial(self._on_signal, epoch), self.config.timeouts)
        self._browser = await BrowserSession.launch(
            self._playwright, self.profile_dir, self.config, self.proxy, partial(self._on_gone, epoch)
        )
        await self._adapter.attach(self._browser.context)
        await self._browser.open(self.config.whatsapp_url)
        await self._adapter.wait_installed(self._browser.page)

    async def _open_with_retries(self) -> None:
        backoff = self.config.relaunch
        for attempt in range(1, backoff.attempts + 1):
            try:
                await self._open_browser()
                return
            except EngineError as exc:
                await self._close_browser()
                if attempt == backoff.attempts:
                    raise
                log.warning("session %s: open failed (%s), retry %d", self.session_id, exc, attempt)
                await asyncio.sleep(backoff.delay(attempt))

    async def _close_browser(self) -> None:
        browser, self._browser = self._browser, None
        if browser is not None:
            await browser.close()

    def _on_signal(self, epoch: int, signal: Signal) -> None:
        self._signals.put_nowait((epoch, signal))

    def _on_gone(self, epoch: int, reason: str) -> None:
        self._signals.put_nowait((epoch, _BrowserGone(reason)))

    # -- events -------------------------------------------------------------------
    def _emit(self, model: type[SessionEvent], **fields: Any) -> None:
        event = model(session_id=self.session_id, generation=self.generation, **fields)
        if self._events.qsize() >= self.config.event_queue_max:
            self._events.get_nowait()  # a consumer this far behind loses the oldest event
            log.warning("session %s: event queue full, dropped the oldest event", self.session_id)
        self._events.put_nowait(event)

    def _set_status(self, status: SessionStatus, reason: str | None = None) -> None:
        if (status, reason) == (self._status, self._reason):
            return
        self._status, self._reason = status, reason
        info = self._info
        self._emit(
            SessionStatusChanged,
            status=status,
            reason=reason,
            phone=info.phone,
            platform=info.platform,
            wa_version=info.wa_version,
            pushname=info.pushname,
        )

    async def _shutdown(self, status: SessionStatus, reason: str, *, wipe: bool = False) -> None:
        """Stop for good: supervisor, Chromium, optionally the profile; end the event stream."""
        self._stopping = True
        task, self._supervisor = self._supervisor, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._close_browser()
        if wipe:
            await asyncio.to_thread(shutil.rmtree, self.profile_dir, True)
        self._set_status(status, reason)
        self._done = True
        self._events.put_nowait(_END)

    # -- supervision --------------------------------------------------------------
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
        if isinstance(item, _BrowserGone):
            await self._recover(item.reason)
        elif isinstance(item, StateSignal):
            await self._on_state(item.state)
        elif isinstance(item, QrSignal):
            await self._on_qr(item.qr)
        elif isinstance(item, SyncedSignal | InstalledSignal):
            await self._on_info(item.info, synced=isinstance(item, SyncedSignal))
        elif isinstance(item, MessageSignal):
            self._emit(
                MessageReceived,
                wa_id=item.wa_id,
                chat=item.chat,
                sender=item.sender,
                kind=item.kind,
                text=item.text,
                caption=item.caption,
                mimetype=item.mimetype,
                timestamp=item.timestamp,
            )
        elif isinstance(item, AckSignal) and item.ack is not AckLevel.SENT:
            self._emit(MessageAck, wa_id=item.wa_id, ack=item.ack, at=datetime.now(UTC))
        elif isinstance(item, LogoutSignal) and not self._logging_out:
            await self._shutdown(SessionStatus.DISCONNECTED, "logged_out", wipe=True)

    async def _on_info(self, info: PageInfo, *, synced: bool) -> None:
        if synced or info.has_synced:
            self._info = info
            self._linked = self._page_synced = True
            self._qr_count = self._codes = self._reconnects = self._relaunches = 0
            self._lost_at = self._code_deadline = None
            self._set_status(SessionStatus.CONNECTED)
        elif info.state in UNPAIRED_STATES:
            await self._on_state(info.state)

    async def _on_state(self, state: str) -> None:
        if state == "CONNECTED":
            if self._page_synced and self._status is SessionStatus.RECONNECTING:
                self._lost_at = None
                self._set_status(SessionStatus.CONNECTED)
        elif state in UNPAIRED_STATES:
            if self.pairing_phone and self._codes == 0 and not self._linked:
                await self._auto_pairing_code()
            elif state == "UNPAIRED_IDLE" and self._code_deadline is None:
                await self._on_idle_qr()
        elif state in TRANSIENT_STATES:
            if self._status is SessionStatus.CONNECTED:
                self._lost_at = time.monotonic()
                self._next_reconnect = self.config.reconnect_grace
                self._set_status(SessionStatus.RECONNECTING, "connection_lost")
        elif state == "CONFLICT":
            await self._shutdown(SessionStatus.DISCONNECTED, "conflict")
        else:  # TOS_BLOCK, SMB_TOS_BLOCK, PROXYBLOCK, DEPRECATED_VERSION...
            await self._shutdown(SessionStatus.ERROR, state.lower())

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
        self._qr_deadline = time.monotonic() + self.config.qr_ttl
        expires = datetime.now(UTC) + timedelta(seconds=self.config.qr_ttl)
        self._emit(QrIssued, qr=qr, attempt=self._qr_count, expires_at=expires)
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
            self._lost_at = None
            return
        await self._shutdown(
            SessionStatus.ERROR, f"browser_crashed: gave up after {backoff.attempts} relaunches ({reason})"
        )


__all__ = ["NotConnectedError", "SessionRuntime"]
