"""Stable local ports for phones, and the ``adb forward`` that exposes each proxy app.

A phone keeps its local port across worker restarts and reconnects, so a
session pinned to ``http://127.0.0.1:<port>`` survives both: the serial→port
map lives in ``<data_dir>/ports.json`` and ports are handed out from the
configured range, lowest free first.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from worker.adb.client import AdbGateway, ForwardEntry
from worker.adb.errors import AdbControllerError


class PortRangeExhausted(AdbControllerError):
    """More phones than ports in the configured range."""


class PortMap:
    """serial → local port, persisted as JSON (written atomically)."""

    def __init__(self, path: Path, base: int, count: int) -> None:
        self._path = path
        self._base = base
        self._count = count
        self._ports: dict[str, int] = self._load()

    def _load(self) -> dict[str, int]:
        try:
            raw = json.loads(self._path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            # A corrupt map only costs ports that move once; never a crash.
            return {}
        if not isinstance(raw, dict):
            return {}
        return {str(k): int(v) for k, v in raw.items() if isinstance(v, int)}

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=".ports-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            json.dump(self._ports, handle, indent=1, sort_keys=True)
        os.replace(tmp, self._path)

    def get(self, serial: str) -> int | None:
        return self._ports.get(serial)

    def port_for(self, serial: str) -> int:
        """The phone's port, allocating (and persisting) the lowest free one the first time."""
        port = self._ports.get(serial)
        if port is not None:
            return port
        taken = set(self._ports.values())
        for candidate in range(self._base, self._base + self._count):
            if candidate not in taken:
                self._ports[serial] = candidate
                self._save()
                return candidate
        raise PortRangeExhausted(f"no free local port in {self._base}..{self._base + self._count - 1}")


async def ensure_forward(
    gateway: AdbGateway, serial: str, local_port: int, phone_port: int, existing: list[ForwardEntry]
) -> bool:
    """Make ``tcp:local_port`` forward to ``tcp:phone_port`` on ``serial``.

    Returns True when a new forward was installed, False when the right one
    was already there (reused as is, so live connections through it survive).
    A forward of another phone on that port is never stolen: ``norebind``
    makes the server refuse, and the caller reports the error.
    """
    for entry in existing:
        if entry.local_port == local_port and entry.serial == serial and entry.remote_port == phone_port:
            return False
    ours = any(e.local_port == local_port and e.serial == serial for e in existing)
    await gateway.forward(serial, local_port, phone_port, norebind=not ours)
    return True
