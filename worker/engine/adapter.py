"""The page adapter: the only module that knows WhatsApp Web's page.

It injects ``adapter.js`` into every page of a session's browser context and
turns what the script reports (through one Playwright binding) into typed
signals; it runs the few page operations the runtime needs (send, pairing
code, QR refresh, logout) through ``page.evaluate``. Everything it relies on
is the page's module surface (``window.require('WAWeb...')``), which the
simulator mirrors; docs/engine.md lists what only the live service can prove.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from importlib import resources
from typing import Any

from playwright.async_api import BrowserContext, Page
from playwright.async_api import Error as PlaywrightError

from shared.types import AckLevel, MediaSpec, MessageKind
from worker.engine.config import Timeouts
from worker.engine.errors import PageError, PairingError, SendError

log = logging.getLogger(__name__)
BINDING = "__wagateEmit"
SCRIPT = (resources.files("worker.engine") / "adapter.js").read_text(encoding="utf-8")

# Socket states in which WhatsApp Web is still (re)connecting on its own.
TRANSIENT_STATES = frozenset({"OPENING", "PAIRING", "TIMEOUT", "UNLAUNCHED", "RESUMING", "SYNCING"})


class Link(StrEnum):
    """The page's socket state, in the engine's terms (the page's names stay in this module)."""

    ONLINE = "online"  # CONNECTED
    NEEDS_QR = "needs_qr"  # UNPAIRED: showing a QR
    QR_EXHAUSTED = "qr_exhausted"  # UNPAIRED_IDLE: out of codes until Cmd.refreshQR()
    CONNECTING = "connecting"  # OPENING, PAIRING, TIMEOUT...: WhatsApp Web retries by itself
    CONFLICT = "conflict"  # the same device connected elsewhere
    BLOCKED = "blocked"  # TOS_BLOCK, PROXYBLOCK, DEPRECATED_VERSION...: nothing to retry


def classify(state: str | None) -> Link:
    """Map a ``WAWebSocketModel.Socket.state`` to a :class:`Link`."""
    if state == "CONNECTED":
        return Link.ONLINE
    if state == "UNPAIRED":
        return Link.NEEDS_QR
    if state == "UNPAIRED_IDLE":
        return Link.QR_EXHAUSTED
    if state == "CONFLICT":
        return Link.CONFLICT
    if state is None or state in TRANSIENT_STATES:
        return Link.CONNECTING
    return Link.BLOCKED


# WhatsApp's ACK enum: -1 error, 0 clock, 1 server, 2 device, 3 read, 4 played.
ACK_LEVELS = {1: AckLevel.SENT, 2: AckLevel.DELIVERED, 3: AckLevel.READ, 4: AckLevel.READ}
KINDS = {
    "chat": MessageKind.TEXT,
    "image": MessageKind.IMAGE,
    "video": MessageKind.VIDEO,
    "audio": MessageKind.AUDIO,
    "ptt": MessageKind.AUDIO,
    "document": MessageKind.DOCUMENT,
}
SEND_ERRORS = {"ERROR_INVALID_RECIPIENT": "invalid_recipient", "ERROR_REFUSED": "refused"}


@dataclass(frozen=True)
class PageInfo:
    """What the page says about itself."""

    installed: bool
    state: str | None = None
    has_synced: bool = False
    phone: str | None = None
    platform: str | None = None
    pushname: str | None = None
    wa_version: str | None = None


@dataclass(frozen=True)
class StateSignal:
    link: Link
    state: str  # the page's own name, for reasons and logs


@dataclass(frozen=True)
class QrSignal:
    qr: str


@dataclass(frozen=True)
class SyncedSignal:
    info: PageInfo


@dataclass(frozen=True)
class InstalledSignal:
    info: PageInfo


@dataclass(frozen=True)
class MessageSignal:
    wa_id: str
    chat: str
    sender: str
    kind: MessageKind
    text: str | None
    caption: str | None
    mimetype: str | None
    timestamp: datetime


@dataclass(frozen=True)
class AckSignal:
    wa_id: str
    ack: AckLevel


@dataclass(frozen=True)
class LogoutSignal:
    source: str


Signal = StateSignal | QrSignal | SyncedSignal | InstalledSignal | MessageSignal | AckSignal | LogoutSignal


def _user(wid: str | None) -> str:
    """``15551234567@c.us`` -> ``15551234567``; group and other ids stay whole."""
    if not wid:
        return ""
    user, _, server = wid.partition("@")
    return user if server in ("c.us", "s.whatsapp.net", "") else wid


def _info(data: dict[str, Any]) -> PageInfo:
    return PageInfo(
        installed=bool(data.get("installed", True)),
        state=data.get("state"),
        has_synced=bool(data.get("hasSynced")),
        phone=data.get("phone"),
        platform=data.get("platform"),
        pushname=data.get("pushname"),
        wa_version=data.get("waVersion"),
    )


def parse_signal(kind: str, data: Any) -> Signal | None:
    """Turn one report of the injected script into a typed signal (None: ignore it)."""
    data = data if isinstance(data, dict) else {}
    if kind == "state" and isinstance(data.get("state"), str):
        return StateSignal(classify(data["state"]), data["state"])
    if kind == "qr" and isinstance(data.get("qr"), str):
        return QrSignal(data["qr"])
    if kind == "synced":
        return SyncedSignal(_info(data))
    if kind == "installed":
        return InstalledSignal(_info(data))
    if kind == "logout":
        return LogoutSignal(str(data.get("source", "logout")))
    if kind == "ack":
        level = ACK_LEVELS.get(int(data.get("ack") or 0))
        return AckSignal(str(data["id"]), level) if level and data.get("id") else None
    if kind == "message":
        return _message(data)
    if kind == "error":
        log.warning("page adapter script failed: %s", data)
    return None


def _message(data: dict[str, Any]) -> MessageSignal | None:
    msg_kind = KINDS.get(str(data.get("type")))
    if msg_kind is None or not data.get("id"):
        return None  # system notices, reactions, stickers...: not messages the API carries
    t = data.get("t")
    timestamp = datetime.fromtimestamp(float(t), UTC) if t else datetime.now(UTC)
    return MessageSignal(
        wa_id=str(data["id"]),
        chat=_user(data.get("remote")),
        sender=_user(data.get("from") or data.get("remote")),
        kind=msg_kind,
        text=data.get("body") if msg_kind is MessageKind.TEXT else None,
        caption=data.get("caption"),
        mimetype=data.get("mimetype"),
        timestamp=timestamp,
    )


class PageAdapter:
    """Installs the injected script on a context and runs page operations."""

    def __init__(self, on_signal: Callable[[Signal], None], timeouts: Timeouts) -> None:
        self._on_signal = on_signal
        self._timeouts = timeouts

    async def attach(self, context: BrowserContext) -> None:
        """Expose the binding and add the script to every future page of ``context``."""
        try:
            await context.expose_binding(BINDING, self._binding)
            await context.add_init_script(script=SCRIPT)
        except PlaywrightError as exc:
            raise PageError(f"could not attach the page adapter: {exc.message}") from exc

    def _binding(self, source: Any, kind: str, data: Any = None) -> None:
        try:
            signal = parse_signal(str(kind), data)
        except (KeyError, TypeError, ValueError):
            log.warning("unparseable page report %r: %r", kind, data)
            return
        if signal is not None:
            self._on_signal(signal)

    async def info(self, page: Page) -> PageInfo:
        data = await self._call(page, "() => window.__wagate ? window.__wagate.info() : {installed: false}")
        return _info(data) if isinstance(data, dict) else PageInfo(installed=False)

    async def wait_installed(self, page: Page) -> None:
        """Wait until the script found the page's modules and wired its listeners."""
        try:
            await page.wait_for_function(
                "() => !!(window.__wagate && window.__wagate.installed)",
                timeout=self._timeouts.page_ready * 1000,
                polling=100,
            )
        except PlaywrightError as exc:
            raise PageError(f"WhatsApp Web's modules did not appear: {exc.message}") from exc

    async def refresh_qr(self, page: Page) -> None:
        await self._call(page, "() => window.__wagate.refreshQR()")

    async def logout(self, page: Page) -> None:
        await asyncio.wait_for(self._call(page, "() => window.__wagate.logout()"), self._timeouts.logout)

    async def request_pairing_code(self, page: Page, phone: str) -> str:
        try:
            code = await asyncio.wait_for(
                self._call(page, "(p) => window.__wagate.requestPairingCode(p)", phone),
                self._timeouts.pairing_code,
            )
        except (TimeoutError, PageError) as exc:
            raise PairingError(f"no pairing code from the page: {exc}") from exc
        if not isinstance(code, str) or len(code.replace("-", "")) != 8:
            raise PairingError(f"unexpected pairing code {code!r}")
        return code

    async def send(
        self,
        page: Page,
        *,
        to: str,
        kind: MessageKind,
        text: str | None,
        media: MediaSpec | None,
        caption: str | None,
    ) -> str:
        """Send through the page's message collection; returns the WhatsApp message id."""
        arg: dict[str, Any] = {"to": to, "kind": kind.value, "text": text, "caption": caption}
        if kind is not MessageKind.TEXT:
            if media is None or not media.data_b64:
                raise SendError("media_invalid", "media must be given inline (data_b64) to the engine")
            arg["media"] = {
                "data_b64": media.data_b64,
                "mimetype": media.mimetype,
                "filename": media.filename,
            }
        timeout = self._timeouts.send
        try:
            result = await asyncio.wait_for(
                self._call(page, "(a) => window.__wagate.sendMessage(a)", arg), timeout
            )
        except TimeoutError as exc:
            raise SendError("timeout", f"no send result within {timeout:.0f}s", retryable=True) from exc
        except PageError as exc:
            raise SendError("page_error", exc.reason, retryable=True) from exc
        if not isinstance(result, dict):
            raise SendError("page_error", f"unexpected send result {result!r}", retryable=True)
        if not result.get("ok"):
            raw = str(result.get("code") or "ERROR")
            code = SEND_ERRORS.get(
                raw, raw.lower() if raw in ("not_connected", "media_invalid") else "refused"
            )
            raise SendError(code, str(result.get("reason") or raw))
        return str(result["id"])

    async def _call(self, page: Page, expression: str, arg: Any = None) -> Any:
        try:
            return await page.evaluate(expression, arg)
        except PlaywrightError as exc:
            raise PageError(f"page call failed: {exc.message}") from exc
