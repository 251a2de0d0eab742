"""Live browsers: one record per WhatsApp-Web page that ever connected.

A record outlives its websocket (the page reconnects after a drop) and is
keyed by the page's own ``browser_id`` (kept in its localStorage). The QR
rotation of an unpaired browser runs here: a batch of references, each
alive ``qr_interval`` seconds, then an idle screen until the page asks for
a refresh, as WhatsApp Web does.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from simulator.config import SimulatorConfig
from simulator.model import BoundedDict

PAIRING_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"


def new_ref() -> str:
    """A QR reference shaped like the live service's (``2@`` + base64)."""
    return "2@" + base64.b64encode(secrets.token_bytes(33)).decode()


def new_pairing_code() -> str:
    return "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(8))


@dataclass
class Pairing:
    phone: str
    code: str
    expires_at: float


@dataclass
class BrowserConn:
    """What the simulator knows about one browser page (live or not)."""

    browser_id: str
    user_agent: str = ""
    ws: web.WebSocketResponse | None = None
    device_id: str | None = None  # set once authenticated as a linked device
    phone: str | None = None
    keys: dict[str, str] = field(default_factory=dict)  # public keys + adv secret, from hello
    ref: str | None = None
    ref_expires_at: float | None = None
    qr_attempt: int = 0
    idle: bool = False
    pairing: Pairing | None = None
    blocked_until: float = 0.0  # "drop" fault: refuse reconnects until then
    connected_at: float | None = None
    last_seen: float = field(default_factory=time.time)
    rotation: asyncio.Task[None] | None = None
    expire_now: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def live(self) -> bool:
        return self.ws is not None and not self.ws.closed

    @property
    def waiting(self) -> bool:
        """Connected, unpaired and showing a QR or a pairing code."""
        return self.live and self.device_id is None and (self.ref is not None or self.pairing is not None)

    def qr_string(self) -> str | None:
        if self.ref is None or not self.keys:
            return None
        k = self.keys
        return ",".join([self.ref, k["static"], k["identity"], k["adv"], k.get("platform", "WEB")])

    def public(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "browser_id": self.browser_id,
            "connected": self.live,
            "linked": self.device_id is not None,
            "phone": self.phone,
            "waiting": self.waiting,
            "qr": self.qr_string(),
            "qr_attempt": self.qr_attempt,
            "qr_expires_at": self.ref_expires_at,
            "idle": self.idle,
            "user_agent": self.user_agent,
            "connected_at": self.connected_at,
        }
        if self.pairing is not None:
            data["pairing"] = {"phone": self.pairing.phone, "expires_at": self.pairing.expires_at}
        return data

    async def send(self, frame: dict[str, Any]) -> bool:
        """Send one frame if the websocket is up; False when it is not."""
        if not self.live:
            return False
        assert self.ws is not None
        try:
            await self.ws.send_json(frame)
        except (ConnectionError, RuntimeError):
            return False
        return True

    def stop_rotation(self) -> None:
        if self.rotation is not None and not self.rotation.done():
            self.rotation.cancel()
        self.rotation = None
        self.ref = None
        self.ref_expires_at = None


class BrowserRegistry:
    """Browser records, the reference and pairing-code indexes, and QR rotation."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.browsers: BoundedDict = BoundedDict(config.max_browsers * 2)
        self.by_ref: dict[str, str] = {}
        self.by_code: dict[str, str] = {}

    def get_or_create(self, browser_id: str) -> BrowserConn:
        conn = self.browsers.get(browser_id)
        if conn is None:
            self._make_room()
            conn = BrowserConn(browser_id=browser_id)
            self.browsers[browser_id] = conn
        return conn

    def _make_room(self) -> None:
        """Forget the oldest disconnected records; refuse when every record is live."""
        if len(self.browsers) < self.config.max_browsers:
            return
        for key, conn in list(self.browsers.items()):
            if not conn.live:
                self.forget(conn)
                del self.browsers[key]
                if len(self.browsers) < self.config.max_browsers:
                    return
        raise web.HTTPServiceUnavailable(text="simulator browser limit reached")

    def forget(self, conn: BrowserConn) -> None:
        conn.stop_rotation()
        if conn.ref:
            self.by_ref.pop(conn.ref, None)
        if conn.pairing:
            self.by_code.pop(conn.pairing.code, None)

    def start_rotation(self, conn: BrowserConn) -> None:
        """(Re)start a batch of QR references for an unpaired, connected browser."""
        conn.stop_rotation()
        conn.idle = False
        conn.rotation = asyncio.create_task(self._rotate(conn), name=f"qr-{conn.browser_id}")

    async def _rotate(self, conn: BrowserConn) -> None:
        try:
            for _ in range(self.config.refs_per_batch):
                await self._issue_ref(conn)
                conn.expire_now.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(conn.expire_now.wait(), self.config.qr_interval)
            self._drop_ref(conn)
            conn.idle = True
            await conn.send({"t": "idle"})
        finally:
            self._drop_ref(conn)

    async def _issue_ref(self, conn: BrowserConn) -> None:
        self._drop_ref(conn)
        conn.ref = new_ref()
        conn.qr_attempt += 1
        conn.ref_expires_at = time.time() + self.config.qr_interval
        self.by_ref[conn.ref] = conn.browser_id
        await conn.send({"t": "ref", "ref": conn.ref, "ttl_ms": int(self.config.qr_interval * 1000)})

    def _drop_ref(self, conn: BrowserConn) -> None:
        if conn.ref:
            self.by_ref.pop(conn.ref, None)
        conn.ref = None
        conn.ref_expires_at = None

    def start_pairing(self, conn: BrowserConn, phone: str) -> Pairing:
        """Switch a browser from QR to a pairing code for ``phone``."""
        conn.stop_rotation()
        self._drop_ref(conn)
        if conn.pairing is not None:
            self.by_code.pop(conn.pairing.code, None)
        pairing = Pairing(phone, new_pairing_code(), time.time() + self.config.pairing_code_ttl)
        conn.pairing = pairing
        self.by_code[pairing.code] = conn.browser_id
        return pairing

    def end_unpaired(self, conn: BrowserConn) -> None:
        """The browser linked (or left): no QR and no code point at it any more."""
        self.forget(conn)
        conn.ref = None
        conn.pairing = None
        conn.idle = False
