"""Redis names of the routing layer (see ARCHITECTURE: how requests travel).

Every key lives under one prefix so several stacks can share a Redis.
"""

from __future__ import annotations

import os

PREFIX = os.environ.get("WAGATE_REDIS_PREFIX", "wagate")

EVENTS_STREAM = f"{PREFIX}:events"
EVENTS_GROUP = "ingester"
EVENTS_DEAD_LETTER = f"{PREFIX}:events:dead"
COMMANDS_GROUP = "worker"


def commands_stream(worker_id: str) -> str:
    """The stream one worker reads its commands from."""
    return f"{PREFIX}:worker:{worker_id}:commands"


def commands_dead_letter(worker_id: str) -> str:
    return f"{PREFIX}:worker:{worker_id}:commands:dead"


def reply_key(command_id: str) -> str:
    """A list the sender BLPOPs on for a request/reply command's answer."""
    return f"{PREFIX}:reply:{command_id}"


def route_key(session_id: str) -> str:
    """Hash ``{worker, generation}``: which worker holds a session, and its fencing token."""
    return f"{PREFIX}:route:{session_id}"


def worker_alive_key(worker_id: str) -> str:
    """Set on every heartbeat; expires after three missed beats."""
    return f"{PREFIX}:worker:{worker_id}:alive"
