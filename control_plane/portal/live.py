"""Where a page opens its websocket (the ASGI process, often on another port)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest
from django.http.request import split_domain_port


def websocket_url(request: HttpRequest, *, session_id: str | None = None) -> str:
    """``WEBSOCKET_URL`` when set (a reverse proxy; may be a path like ``/ws/``), else
    ``ws://<the page's host>:WS_PORT/ws/``: the browser sends the session cookie to
    any port of the same host, so the socket is authenticated like the page."""
    url = settings.WEBSOCKET_URL
    if not url:
        host, _ = split_domain_port(request.get_host())
        scheme = "wss" if request.is_secure() else "ws"
        url = f"{scheme}://{host}:{settings.WS_PORT}/ws/"
    if session_id:
        url += ("&" if "?" in url else "?") + urlencode({"session": session_id})
    return url
