"""Serving the HTTP API: granian's command, and getting a serving process ready
before its first request."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable
from typing import Any

# The HTTP API's server: granian's WSGI threads, 2 processes × 8 threads. A send
# mostly waits for PostgreSQL and Redis, so 8 threads a process accepted 630-730
# sends/s against 540-580 with 4 (docs/send-path.md). docker-compose.yml and the
# Dockerfile spell the same command out.
WEB_WORKERS, WEB_THREADS = 2, 8
WSGI_APP = "control_plane.config.wsgi:application"


def web_server_args(
    *, host: str, port: int | str, workers: int | str = WEB_WORKERS, threads: int | str = WEB_THREADS
) -> list[str]:
    """granian's arguments for the HTTP API (after the program, before any extra option)."""
    return [
        "--interface",
        "wsgi",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--no-ws",
    ]


def ready_to_serve() -> None:
    """Import every view now, then take what is loaded out of the collector's way.

    Everything loaded at start lives as long as the process. Left to the collector,
    a full collection walked ~130,000 such objects and paused a web process for
    ~70 ms, a latency spike for every request in it at the time; frozen, the same
    collection takes ~0.6 ms. Views load lazily with the URLconf, hence the import.
    """
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports the URLconf and every view
    gc.collect()
    gc.freeze()


# What a WSGI environ may carry besides the request's own HTTP_* headers (PEP 3333).
_WSGI_KEYS = frozenset(
    {
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "REMOTE_ADDR",
        "REMOTE_HOST",
        "REMOTE_USER",
        "AUTH_TYPE",
        "GATEWAY_INTERFACE",
        "SERVER_SOFTWARE",
        "REQUEST_URI",
        "RAW_URI",
    }
)


def without_process_environment(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """granian copies the whole process environment into every request's environ,
    so ``request.META`` would carry DATABASE_URL, SECRET_KEY and the like into
    anything that reports a request (error reports, logs). Drop them per request;
    a process variable named like a header (HTTP_PROXY) only while it still holds
    the process's value, so a request's own header of that name stays."""
    leaked = frozenset(k for k in os.environ if k not in _WSGI_KEYS and not k.startswith("HTTP_"))
    leaked_headers = {k: v for k, v in os.environ.items() if k.startswith("HTTP_")}

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        for key in leaked:
            environ.pop(key, None)
        for key, value in leaked_headers.items():
            if environ.get(key) == value:
                del environ[key]
        return app(environ, start_response)

    return application
