"""The simulator's brain: links browsers to phones and routes messages and acks.

Every message goes through here whoever sends it (a phone through the HTTP
API, a browser through its websocket): it lands in the recipient's inbox,
is pushed to every browser linked to the recipient, and its acks (server,
delivered, read) flow back to the sender's browsers. Frames for a browser
that is offline wait in its device's pending queue until it comes back.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from simulator.browsers import BrowserConn, BrowserRegistry
from simulator.config import SimulatorConfig
from simulator.model import BoundedDict, Device, InboxMessage
from simulator.store import Store

log = logging.getLogger("simulator")

ACK_SERVER, ACK_DELIVERED, ACK_READ = 1, 2, 3


class SimError(Exception):
    """A refused phone/admin request: ``status`` is the HTTP status, ``code`` machine-readable."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Faults:
    """Faults tests switch on: slow acks and refused sends."""

    ack_delay: float = 0.0
    refuse_count: int = 0
    refuse_to: str | None = None
    refuse_reason: str = "refused by simulator fault"


def new_message_id() -> str:
    return "3EB0" + secrets.token_hex(10).upper()


def verify_signature(public_b64: str, nonce: bytes, sig_b64: str) -> bool:
    """Check a WebCrypto ECDSA P-256 signature (raw r||s) over ``nonce``."""
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), base64.b64decode(public_b64))
        raw = base64.b64decode(sig_b64)
        r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        key.verify(encode_dss_signature(r, s), nonce, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


class Hub:
    """State plus live browsers; every phone, page and fault operation lives here."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.store = Store(config)
        self.registry = BrowserRegistry(config)
        self.faults = Faults(ack_delay=config.ack_delay)
        self.uploads: BoundedDict = BoundedDict(10_000)
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Any) -> None:
        """Run a coroutine in the background, keeping a reference until it ends."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for conn in list(self.registry.browsers.values()):
            conn.stop_rotation()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- linking --------------------------------------------------------
    def find_by_qr(self, qr: str) -> BrowserConn:
        ref = qr.split(",", 1)[0].strip()
        browser_id = self.registry.by_ref.get(ref)
        conn = self.registry.browsers.get(browser_id) if browser_id else None
        if conn is None or not conn.live:
            raise SimError(410, "qr_expired", "this QR code is not valid any more (expired or unknown)")
        parts = qr.split(",")
        if len(parts) != 5 or parts[2] != conn.keys.get("identity"):
            raise SimError(400, "qr_invalid", "the QR code's keys do not match the browser that showed it")
        return conn

    def find_by_code(self, phone: str, code: str) -> BrowserConn:
        code = code.replace("-", "").replace(" ", "").upper()
        browser_id = self.registry.by_code.get(code)
        conn = self.registry.browsers.get(browser_id) if browser_id else None
        if conn is None or conn.pairing is None or conn.pairing.expires_at < time.time() or not conn.live:
            raise SimError(410, "code_expired", "this pairing code is not valid (expired or unknown)")
        if conn.pairing.phone != phone:
            raise SimError(409, "code_phone_mismatch", "this pairing code was requested for another number")
        return conn

    async def link(self, phone: str, conn: BrowserConn) -> Device:
        """Make ``conn`` a linked device of ``phone`` and tell the page."""
        self.registry.end_unpaired(conn)
        device = self.store.link(phone, conn.keys["identity"], conn.browser_id)
        self.store.account(phone).online = True
        conn.device_id, conn.phone = device.device_id, phone
        await conn.send(
            {"t": "paired", "device_id": device.device_id, "wid": phone, "platform": self.config.platform}
        )
        return device

    async def unlink(self, phone: str) -> int:
        """The phone logs out every linked browser; returns how many."""
        devices = self.store.devices_of(phone)
        for device in devices:
            self.store.remove_device(device.device_id)
            conn = self.registry.browsers.get(device.browser_id)
            if conn is not None and conn.device_id == device.device_id:
                await self.log_out_browser(conn, "unlinked")
        return len(devices)

    async def log_out_browser(self, conn: BrowserConn, reason: str) -> None:
        conn.device_id, conn.phone = None, None
        await conn.send({"t": "logged_out", "reason": reason})

    # -- authentication of a returning device -----------------------------
    async def authenticate(self, conn: BrowserConn, device_id: str, nonce: bytes, sig_b64: str) -> bool:
        device = self.store.devices.get(device_id)
        if device is None or not verify_signature(device.identity_key_b64, nonce, sig_b64):
            await self.log_out_browser(conn, "unknown_device" if device is None else "bad_signature")
            return False
        for other in self.registry.browsers.values():
            if other is not conn and other.device_id == device_id and other.live:
                await other.send({"t": "conflict"})
                other.device_id = None
                assert other.ws is not None
                await other.ws.close()
        conn.device_id, conn.phone = device_id, device.phone
        # The device now lives in this browser (e.g. a profile restored on another
        # machine): frames for it must be pushed here, not queued for the old one.
        device.browser_id = conn.browser_id
        self.store.dirty = True
        await self.send_connected(conn, device)
        return True

    async def send_connected(self, conn: BrowserConn, device: Device) -> None:
        await conn.send(
            {
                "t": "connected",
                "wid": device.phone,
                "pushname": f"Sim {device.phone[-4:]}",
                "platform": self.config.platform,
            }
        )
        for frame in list(device.pending):
            await conn.send(frame)

    # -- messages ---------------------------------------------------------
    async def push(self, phone: str, frame: dict[str, Any]) -> None:
        """Queue ``frame`` for every device of ``phone`` and send it to the live ones."""
        for device in self.store.devices_of(phone):
            queued = self.store.queue(device, frame)
            conn = self.registry.browsers.get(device.browser_id)
            if conn is not None and conn.device_id == device.device_id:
                await conn.send(queued)

    async def ack(self, message_id: str, level: int) -> None:
        route = self.store.routes.get(message_id)
        if route is not None:
            await self.push(route["sender"], {"t": "ack", "id": message_id, "ack": level})

    async def deliver(self, sender: str, recipient: str, message: InboxMessage) -> None:
        """Put a message in the recipient's inbox, push it to its browsers, ack it."""
        existed = self.store.exists(recipient)
        self.store.deliver_to_inbox(recipient, message)
        frame = {
            "t": "msg",
            "id": message.id,
            "from": sender,
            "type": message.type,
            "text": message.text,
            "caption": message.caption,
            "mimetype": message.mimetype,
            "size": message.size,
            "filename": message.filename,
            "ts": message.received_at,
        }
        await self.push(recipient, frame)
        if existed and (self.store.account(recipient).online or self.store.devices_of(recipient)):
            await self.mark_delivered(message)

    async def mark_delivered(self, message: InboxMessage) -> None:
        if message.delivered:
            return
        message.delivered = True
        await self.ack(message.id, ACK_DELIVERED)
        if self.config.read_after > 0:
            route = self.store.routes.get(message.id) or {}
            recipient = route.get("recipient")
            if recipient:
                self.spawn(self._read_later(recipient, message.id))

    async def _read_later(self, recipient: str, message_id: str) -> None:
        await asyncio.sleep(self.config.read_after)
        await self.read(recipient, [message_id])

    async def read(self, phone: str, ids: list[str] | None) -> int:
        """The phone of ``phone`` reads its messages (all unread, or just ``ids``)."""
        count = 0
        for message in list(self.store.account(phone).inbox):
            if message.read or (ids is not None and message.id not in ids):
                continue
            message.read = True
            if not message.delivered:
                await self.mark_delivered(message)
            await self.ack(message.id, ACK_READ)
            count += 1
        self.store.dirty = True
        return count

    async def phone_opened_inbox(self, phone: str) -> list[dict[str, Any]]:
        """``GET inbox``: the phone is online, so whatever waited is now delivered."""
        account = self.store.account(phone)
        account.online = True
        for message in list(account.inbox):
            if not message.delivered:
                await self.mark_delivered(message)
        return [m.public() for m in account.inbox]


HUB: web.AppKey[Hub] = web.AppKey("hub", Hub)
