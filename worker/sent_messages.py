"""Which outgoing messages a session has already sent, kept inside its profile.

``<profile>/wagate/sent.json`` maps the control plane's message id to the
WhatsApp id it got. It is written right after each send returns, and it
travels with the profile snapshot, so a ``message.send`` delivered again
(after a restart, a failover or a retry) is answered from the record
instead of being sent twice.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
DIRNAME = "wagate"
FILENAME = "sent.json"
KEEP = 5_000  # newest ids kept per session; a retry older than this many sends is not expected


@dataclass(frozen=True)
class SentRecord:
    wa_id: str
    at: datetime


class SentLog:
    """The sent-message record of one session profile."""

    def __init__(self, profile_dir: Path) -> None:
        self.path = profile_dir / DIRNAME / FILENAME

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.error("unreadable sent-message record %s (%s): starting a new one", self.path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, message_id: str) -> SentRecord | None:
        entry = self._load().get(message_id)
        if not isinstance(entry, dict):
            return None
        try:
            return SentRecord(wa_id=str(entry["wa_id"]), at=datetime.fromisoformat(entry["at"]))
        except (KeyError, ValueError, TypeError):
            return None

    def record(self, message_id: str, wa_id: str, at: datetime) -> None:
        """Add one sent message; written atomically and flushed to disk before returning."""
        data = self._load()
        data[message_id] = {"wa_id": wa_id, "at": at.isoformat()}
        if len(data) > KEEP:
            data = dict(list(data.items())[-KEEP:])  # insertion order: the oldest go first
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump(data, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
