"""Simulator housekeeping for tests and the demo: health, browser list, faults.

Everything here lives under ``/_sim/`` (plus ``/health``) so it can never be
mistaken for the phone API.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from simulator.browsers import BrowserConn
from simulator.hub import HUB, Hub
from simulator.phone_api import body, error

routes = web.RouteTableDef()


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    hub: Hub = request.app[HUB]
    live = sum(1 for c in hub.registry.browsers.values() if c.live)
    return web.json_response({"status": "ok", "browsers": live, "accounts": len(hub.store.accounts)})


@routes.get("/_sim/browsers")
async def list_browsers(request: web.Request) -> web.Response:
    """Browsers the simulator knows; ``?waiting=1`` only those showing a QR or a code."""
    hub: Hub = request.app[HUB]
    conns = list(hub.registry.browsers.values())
    if request.query.get("waiting") in ("1", "true"):
        conns = [c for c in conns if c.waiting]
    if "phone" in request.query:
        conns = [c for c in conns if c.phone == request.query["phone"]]
    return web.json_response([c.public() for c in conns])


def _browser(request: web.Request) -> BrowserConn:
    hub: Hub = request.app[HUB]
    conn = hub.registry.browsers.get(request.match_info["browser_id"])
    if conn is None:
        raise web.HTTPNotFound(text="unknown browser")
    return conn


@routes.post("/_sim/browsers/{browser_id}/drop")
async def drop(request: web.Request) -> web.Response:
    """Close a browser's websocket; with ``block_s`` refuse its reconnects for that long."""
    conn = _browser(request)
    data = await body(request) if request.can_read_body else {}
    conn.blocked_until = time.time() + float(data.get("block_s", 0))
    was_live = conn.live
    if conn.ws is not None:
        await conn.ws.close()
    return web.json_response({"dropped": was_live, "blocked_until": conn.blocked_until})


@routes.post("/_sim/browsers/{browser_id}/expire-qr")
async def expire_qr(request: web.Request) -> web.Response:
    """End the current QR reference now (the next one follows at once)."""
    conn = _browser(request)
    if conn.ref is None:
        return error(409, "conflict", "this browser shows no QR code")
    conn.expire_now.set()
    return web.json_response({"expired": True})


@routes.get("/_sim/faults")
async def get_faults(request: web.Request) -> web.Response:
    hub: Hub = request.app[HUB]
    return web.json_response(_faults(hub))


@routes.post("/_sim/faults")
async def set_faults(request: web.Request) -> web.Response:
    """Switch faults: ``ack_delay`` seconds, ``refuse_sends`` {count, to?, reason?}, ``reset``."""
    hub: Hub = request.app[HUB]
    data = await body(request)
    if data.get("reset"):
        hub.faults.ack_delay, hub.faults.refuse_count, hub.faults.refuse_to = hub.config.ack_delay, 0, None
    if "ack_delay" in data:
        hub.faults.ack_delay = max(0.0, float(data["ack_delay"]))
    refuse = data.get("refuse_sends")
    if isinstance(refuse, dict):
        hub.faults.refuse_count = int(refuse.get("count", 1))
        hub.faults.refuse_to = refuse.get("to")
        hub.faults.refuse_reason = str(refuse.get("reason", "refused by simulator fault"))
    return web.json_response(_faults(hub))


def _faults(hub: Hub) -> dict[str, Any]:
    f = hub.faults
    return {
        "ack_delay": f.ack_delay,
        "refuse_sends": {"count": f.refuse_count, "to": f.refuse_to, "reason": f.refuse_reason},
    }


@routes.get("/_sim/accounts")
async def accounts(request: web.Request) -> web.Response:
    hub: Hub = request.app[HUB]
    return web.json_response(
        [
            {"phone": a.phone, "inbox": len(a.inbox), "devices": len(hub.store.devices_of(a.phone))}
            for a in hub.store.accounts.values()
        ]
    )
