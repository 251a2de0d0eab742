"""The phone API (../shared/API.md): what a customer's phone does to an account.

``/phone/{number}/scan|pair|send|inbox|unlink`` as in the contract, plus
``/phone/{number}/read`` (the phone reads its messages, so read acks flow).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from typing import Any

from aiohttp import web

from simulator.hub import HUB, Hub, SimError, new_message_id
from simulator.model import InboxMessage

routes = web.RouteTableDef()
MEDIA_TYPES = {"image", "document", "audio", "video"}


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, "details": {}}}, status=status)


def phone_of(request: web.Request) -> str:
    raw = request.match_info["number"].strip().lstrip("+")
    if not raw.isdigit() or not 6 <= len(raw) <= 15:
        raise web.HTTPBadRequest(
            text='{"error": {"code": "validation_error", "message": "a number is 6 to 15 digits"}}',
            content_type="application/json",
        )
    return raw


async def body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(
            text='{"error": {"code": "validation_error", "message": "JSON object body expected"}}',
            content_type="application/json",
        )
    return data


@routes.post("/phone/{number}/scan")
async def scan(request: web.Request) -> web.Response:
    """The phone scans a QR a browser shows; the browser becomes a linked device."""
    hub: Hub = request.app[HUB]
    phone, data = phone_of(request), await body(request)
    try:
        conn = hub.find_by_qr(str(data.get("qr", "")))
    except SimError as exc:
        return error(exc.status, exc.code, exc.message)
    device = await hub.link(phone, conn)
    return web.json_response(
        {"linked": True, "phone": phone, "browser_id": conn.browser_id, "device_id": device.device_id}
    )


@routes.post("/phone/{number}/pair")
async def pair(request: web.Request) -> web.Response:
    """The phone types the pairing code a browser requested for this number."""
    hub: Hub = request.app[HUB]
    phone, data = phone_of(request), await body(request)
    try:
        conn = hub.find_by_code(phone, str(data.get("code", "")))
    except SimError as exc:
        return error(exc.status, exc.code, exc.message)
    device = await hub.link(phone, conn)
    return web.json_response(
        {"linked": True, "phone": phone, "browser_id": conn.browser_id, "device_id": device.device_id}
    )


@routes.post("/phone/{number}/send")
async def send(request: web.Request) -> web.Response:
    """Account ``number`` sends ``text`` (or media) to account ``to``."""
    hub: Hub = request.app[HUB]
    phone, data = phone_of(request), await body(request)
    to = str(data.get("to", "")).lstrip("+")
    if not to.isdigit() or not 6 <= len(to) <= 15:
        return error(400, "validation_error", "'to' must be a number of 6 to 15 digits")
    message = _message(phone, data)
    if isinstance(message, str):
        return error(400, "validation_error", message)
    hub.store.account(phone).online = True
    await hub.deliver(phone, to, message)
    return web.json_response({"id": message.id, "to": to}, status=201)


def _message(sender: str, data: dict[str, Any]) -> InboxMessage | str:
    kind = str(data.get("type", "text"))
    base: dict[str, Any] = {"id": new_message_id(), "sender": sender, "received_at": time.time()}
    if kind == "text":
        text = data.get("text")
        if not isinstance(text, str) or not text:
            return "'text' is required"
        return InboxMessage(**base, text=text)
    if kind not in MEDIA_TYPES:
        return f"unsupported type {kind!r}"
    try:
        raw = base64.b64decode(str(data.get("data_b64", "")), validate=True)
    except (binascii.Error, ValueError):
        return "'data_b64' must be base64"
    return InboxMessage(
        **base,
        text=None,
        type=kind,
        caption=data.get("caption"),
        mimetype=str(data.get("mimetype", "application/octet-stream")),
        size=len(raw),
        filename=data.get("filename"),
        sha256=hashlib.sha256(raw).hexdigest(),
    )


@routes.get("/phone/{number}/inbox")
async def inbox(request: web.Request) -> web.Response:
    """Messages the account received, oldest first."""
    hub: Hub = request.app[HUB]
    return web.json_response(await hub.phone_opened_inbox(phone_of(request)))


@routes.post("/phone/{number}/read")
async def read(request: web.Request) -> web.Response:
    """The phone reads its unread messages (or only ``ids``): read acks go to the senders."""
    hub: Hub = request.app[HUB]
    phone = phone_of(request)
    data = await body(request) if request.can_read_body else {}
    ids = data.get("ids")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        return error(400, "validation_error", "'ids' must be a list of message ids")
    return web.json_response({"read": await hub.read(phone, ids)})


@routes.post("/phone/{number}/unlink")
async def unlink(request: web.Request) -> web.Response:
    """The phone logs out all its linked browsers."""
    hub: Hub = request.app[HUB]
    return web.json_response({"unlinked": await hub.unlink(phone_of(request))})
