"""What a browser loads: the WhatsApp-Web-like page, its assets, QR images, media upload."""

from __future__ import annotations

import hashlib
import io
import json
import secrets
from importlib import resources

import qrcode
import qrcode.image.svg
from aiohttp import web

from simulator.hub import HUB, Hub

routes = web.RouteTableDef()
STATIC = resources.files("simulator") / "static"
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}


def _asset(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    """The page, with the simulator's knobs inlined so it needs one request less."""
    hub: Hub = request.app[HUB]
    cfg = hub.config
    weight = request.query.get("page_weight_mb", "")  # per-page override for tests and benchmarks
    page_config = {
        "waVersion": cfg.wa_version,
        "pageWeightMb": int(weight) if weight.isdigit() else cfg.page_weight_mb,
        "reconnectDelayMs": int(cfg.reconnect_delay * 1000),
    }
    html = _asset("wa.html").replace("__SIM_CONFIG__", json.dumps(page_config))
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


@routes.get("/favicon.ico")
async def favicon(request: web.Request) -> web.Response:
    return web.Response(status=204)


@routes.get("/phone")
async def phone_page(request: web.Request) -> web.Response:
    return web.Response(text=_asset("phone.html"), content_type="text/html")


@routes.get("/static/{name}")
async def static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    suffix = name[name.rfind(".") :] if "." in name else ""
    if "/" in name or ".." in name or suffix not in CONTENT_TYPES or not (STATIC / name).is_file():
        raise web.HTTPNotFound()
    return web.Response(text=_asset(name), content_type=CONTENT_TYPES[suffix])


@routes.get("/qr.svg")
async def qr_svg(request: web.Request) -> web.Response:
    """Render a QR string as SVG (the page shows it; the engine blocks images and never asks)."""
    data = request.query.get("data", "")
    if not data or len(data) > 1024:
        raise web.HTTPBadRequest(text="data (at most 1024 characters) required")
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buf = io.BytesIO()
    image.save(buf)
    return web.Response(body=buf.getvalue(), content_type="image/svg+xml")


@routes.post("/mms/upload")
async def upload(request: web.Request) -> web.Response:
    """Media upload, like WhatsApp's media servers: keep the digest and size, not the bytes."""
    hub: Hub = request.app[HUB]
    raw = await request.read()
    if not raw:
        raise web.HTTPBadRequest(text="empty upload")
    direct_path = "/v/t62/" + secrets.token_hex(16)
    entry = {
        "sha256": hashlib.sha256(raw).hexdigest(),
        "size": len(raw),
        "mimetype": request.headers.get("Content-Type", "application/octet-stream").split(";")[0],
    }
    hub.uploads[direct_path] = entry
    return web.json_response(
        {"direct_path": direct_path, "url": f"/mms{direct_path}", "media_key": secrets.token_hex(16), **entry}
    )
