"""Health checks: the database and Redis answer (503 when either does not)."""

from __future__ import annotations

import time
from typing import Any

from django.db import connection

from control_plane.core import redis as redis_client


def _timed(check) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # noqa: BLE001 - any failure of a dependency is a failed check, not a crash
        return {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis() -> None:
    redis_client.client().ping()


def health_report() -> tuple[bool, dict[str, Any]]:
    checks = {"database": _timed(_database), "redis": _timed(_redis)}
    healthy = all(check["status"] == "ok" for check in checks.values())
    return healthy, {"status": "ok" if healthy else "error", "checks": checks}
