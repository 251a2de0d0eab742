"""A webhook sink for demos and the rest/ files: ``POST /_sim/sink/{name}`` records
a request (headers, body) and answers 200, or the status given with ``?status=``;
``GET /_sim/sink/{name}`` lists what arrived (newest last, bounded)."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Any

from aiohttp import web

routes = web.RouteTableDef()
KEEP = 200
SINKS: web.AppKey[dict[str, deque[dict[str, Any]]]] = web.AppKey("sinks", dict)


def setup(app: web.Application) -> None:
    app[SINKS] = defaultdict(lambda: deque(maxlen=KEEP))
    app.add_routes(routes)


@routes.post("/_sim/sink/{name}")
async def receive(request: web.Request) -> web.Response:
    raw = await request.read()
    request.app[SINKS][request.match_info["name"]].append(
        {
            "at": time.time(),
            "headers": {
                k: v for k, v in request.headers.items() if k.lower().startswith("x-") or k == "Content-Type"
            },
            "body": raw[:65536].decode("utf-8", errors="replace"),
        }
    )
    status = int(request.query.get("status", "200"))
    return web.json_response({"received": True}, status=status if 200 <= status <= 599 else 200)


@routes.get("/_sim/sink/{name}")
async def received(request: web.Request) -> web.Response:
    return web.json_response(list(request.app[SINKS][request.match_info["name"]]))
