"""The worker's identity on disk: its id and current token, in its data directory.

Kept so a restarted worker registers under the same id (and is told to
recover its sessions) even when ``WORKER_ID`` is not set. The file is
readable by the worker's user only; the token is replaced on every
registration.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
FILENAME = "identity.json"


@dataclass(frozen=True)
class Identity:
    """Who this worker is to the control plane."""

    worker_id: str
    token: str

    def __repr__(self) -> str:
        return f"Identity(worker_id={self.worker_id!r}, token=<hidden>)"


def load(data_dir: Path) -> Identity | None:
    """The saved identity, or None (missing or unreadable: the worker registers afresh)."""
    path = data_dir / FILENAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Identity(worker_id=str(data["worker_id"]), token=str(data["token"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable %s (%s)", path, exc)
        return None


def save(data_dir: Path, identity: Identity) -> None:
    """Write atomically with mode 0600 (the token is a credential)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / FILENAME
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"worker_id": identity.worker_id, "token": identity.token}, out)
    os.replace(tmp, path)
