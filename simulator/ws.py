"""The page's websocket: the simulator's stand-in for WhatsApp's servers.

Frames are JSON objects with a ``t`` (type). Browser -> simulator: ``hello``,
``auth``, ``paired_ok``, ``refresh_qr``, ``pair_request``, ``send``,
``recv_ack``, ``logout``, ``ping``. Simulator -> browser: ``challenge``,
``ref``, ``idle``, ``pair_code``, ``paired``, ``connected``, ``msg``,
``send_result``, ``ack``, ``logged_out``, ``conflict``, ``error``, ``pong``.
docs/simulator.md has the sequence diagrams.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import time
from typing import Any

from aiohttp import WSMsgType, web

from simulator.browsers import BrowserConn
from simulator.hub import HUB, Hub, new_message_id
from simulator.model import InboxMessage

PHONE = re.compile(r"^[0-9]{6,15}$")
MEDIA_TYPES = {"image", "document", "audio", "video"}


async def websocket_handler(request: web.Request) -> web.WebSocketResponse:
    """Accept one page connection and serve its frames until it closes."""
    hub: Hub = request.app[HUB]
    browser_id = request.query.get("browser_id", "")
    if not re.fullmatch(r"[A-Za-z0-9_-]{8,64}", browser_id):
        raise web.HTTPBadRequest(text="browser_id query parameter required")
    conn = hub.registry.get_or_create(browser_id)
    if conn.blocked_until > time.time():
        raise web.HTTPServiceUnavailable(text="connection refused by simulator fault")
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4 * 1024 * 1024)
    await ws.prepare(request)
    if conn.live and conn.ws is not None:
        # Same browser id twice: a reload (the old socket is dying anyway) or the same
        # profile running in two places. The newer one wins, as on WhatsApp Web.
        await conn.send({"t": "conflict"})
        await conn.ws.close()
    conn.ws, conn.connected_at = ws, time.time()
    conn.user_agent = request.headers.get("User-Agent", "")
    session = _Session(hub, conn, ws)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                frame = json.loads(msg.data)
            except ValueError:
                continue
            if isinstance(frame, dict):
                await session.handle(frame)
    finally:
        if conn.ws is ws:
            conn.ws = None
            conn.stop_rotation()
            hub.registry.end_unpaired(conn)
            conn.device_id = None
    return ws


class _Session:
    """One websocket's conversation with a page."""

    def __init__(self, hub: Hub, conn: BrowserConn, ws: web.WebSocketResponse) -> None:
        self.hub, self.conn, self.ws = hub, conn, ws
        self.nonce: bytes | None = None
        self.pending_device: str | None = None

    async def handle(self, frame: dict[str, Any]) -> None:
        handler = getattr(self, f"on_{frame.get('t', '')}", None)
        if handler is not None:
            await handler(frame)

    async def on_ping(self, frame: dict[str, Any]) -> None:
        await self.conn.send({"t": "pong"})

    async def on_hello(self, frame: dict[str, Any]) -> None:
        keys = frame.get("keys") or {}
        required = ("static", "identity", "adv")
        if isinstance(keys, dict) and all(isinstance(keys.get(k), str) for k in required):
            self.conn.keys = {k: keys[k] for k in ("static", "identity", "adv", "platform") if k in keys}
        device_id = frame.get("device_id")
        if isinstance(device_id, str) and device_id:
            self.nonce, self.pending_device = secrets.token_bytes(32), device_id
            await self.conn.send({"t": "challenge", "nonce": base64.b64encode(self.nonce).decode()})
            return
        if not self.conn.keys:
            await self.conn.send({"t": "error", "reason": "hello without keys"})
            return
        self.hub.registry.start_rotation(self.conn)

    async def on_auth(self, frame: dict[str, Any]) -> None:
        if self.nonce is None or self.pending_device is None:
            return
        nonce, device_id, self.nonce = self.nonce, self.pending_device, None
        await self.hub.authenticate(self.conn, device_id, nonce, str(frame.get("sig", "")))

    async def on_paired_ok(self, frame: dict[str, Any]) -> None:
        """The page stored its new credentials; now it may go online."""
        device = self.hub.store.devices.get(self.conn.device_id or "")
        if device is not None:
            await self.hub.send_connected(self.conn, device)

    async def on_refresh_qr(self, frame: dict[str, Any]) -> None:
        if self.conn.device_id is None and self.conn.keys:
            self.hub.registry.start_rotation(self.conn)

    async def on_pair_request(self, frame: dict[str, Any]) -> None:
        phone = str(frame.get("phone", "")).lstrip("+")
        if self.conn.device_id is not None or not PHONE.match(phone):
            await self.conn.send({"t": "pair_code", "ok": False, "reason": "invalid phone or already linked"})
            return
        pairing = self.hub.registry.start_pairing(self.conn, phone)
        ttl_ms = int(self.hub.config.pairing_code_ttl * 1000)
        await self.conn.send({"t": "pair_code", "ok": True, "code": pairing.code, "ttl_ms": ttl_ms})

    async def on_recv_ack(self, frame: dict[str, Any]) -> None:
        device = self.hub.store.devices.get(self.conn.device_id or "")
        if device is None:
            return
        qids = [q for q in frame.get("qids", []) if isinstance(q, str)]
        delivered = [f["id"] for f in device.pending if f.get("qid") in qids and f.get("t") == "msg"]
        self.hub.store.confirm(device, qids)
        for message_id in delivered:
            message = self.hub.store.find_inbox_message(device.phone, message_id)
            if message is not None:
                await self.hub.mark_delivered(message)

    async def on_logout(self, frame: dict[str, Any]) -> None:
        if self.conn.device_id is not None:
            self.hub.store.remove_device(self.conn.device_id)
            await self.hub.log_out_browser(self.conn, "logout")

    async def on_send(self, frame: dict[str, Any]) -> None:
        if self.conn.device_id is None or self.conn.phone is None:
            await self._result(frame, ok=False, error="not_logged_in", reason="the browser is not linked")
            return
        self.hub.spawn(self._send(frame, self.conn.phone))

    async def _send(self, frame: dict[str, Any], sender: str) -> None:
        hub, faults = self.hub, self.hub.faults
        to = str(frame.get("to", ""))
        if not PHONE.match(to):
            await self._result(frame, ok=False, error="invalid_recipient", reason=f"{to!r} is not a number")
            return
        if faults.refuse_count > 0 and faults.refuse_to in (None, to):
            faults.refuse_count -= 1
            await self._result(frame, ok=False, error="refused", reason=faults.refuse_reason)
            return
        message = self._message(frame, sender)
        if isinstance(message, str):
            await self._result(frame, ok=False, error="media_invalid", reason=message)
            return
        if faults.ack_delay > 0:
            await asyncio.sleep(faults.ack_delay)
        await self._result(frame, ok=True)
        await hub.deliver(sender, to, message)

    def _message(self, frame: dict[str, Any], sender: str) -> InboxMessage | str:
        kind = str(frame.get("type", "text"))
        base = dict(id=str(frame.get("id") or new_message_id()), sender=sender, received_at=time.time())
        if kind in ("text", "chat"):
            return InboxMessage(**base, text=str(frame.get("text") or ""), type="text")
        if kind not in MEDIA_TYPES:
            return f"unsupported message type {kind!r}"
        media = frame.get("media") or {}
        upload = self.hub.uploads.get(str(media.get("direct_path", "")))
        if upload is None:
            return "media was not uploaded (unknown direct_path)"
        return InboxMessage(
            **base,
            text=None,
            type=kind,
            caption=frame.get("caption"),
            mimetype=upload["mimetype"],
            size=upload["size"],
            sha256=upload["sha256"],
            filename=media.get("filename"),
        )

    async def _result(self, frame: dict[str, Any], *, ok: bool, error: str = "", reason: str = "") -> None:
        result: dict[str, Any] = {"t": "send_result", "id": frame.get("id"), "ok": ok, "ts": time.time()}
        if not ok:
            result.update(error=error, reason=reason)
        await self.conn.send(result)
