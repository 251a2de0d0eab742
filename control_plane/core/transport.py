"""The control plane's only door to the Redis wire: commands out, replies back,
routes, and the events stream the ingester reads.

Everything crossing the wire is a shared envelope (``shared.envelope``);
nothing else in the control plane serialises commands or events.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from redis import RedisError

from control_plane.core import redis as redis_client
from control_plane.core.errors import WorkerTimeout, WorkerUnavailable
from shared import streams
from shared.envelope import Envelope, WireError, WireModel, decode, encode
from shared.events import CommandResult

log = logging.getLogger(__name__)
SOURCE = "control-plane"
REPLY_TTL_SECONDS = 120


def send_command(*, worker_id: str, command: WireModel, reply: bool = False) -> Envelope:
    """Append a command to the worker's stream; with ``reply`` it carries a reply key."""
    envelope = encode(command, source=SOURCE)
    if reply:
        envelope = envelope.model_copy(update={"reply_to": streams.reply_key(envelope.id)})
    try:
        redis_client.client().xadd(streams.commands_stream(worker_id), {"envelope": envelope.to_json()})
    except RedisError as exc:
        raise WorkerUnavailable("The command could not be queued (Redis is unreachable).") from exc
    return envelope


def await_reply(*, envelope: Envelope, timeout: float) -> CommandResult:
    """Wait for the worker's ``command.result``; a timeout is a clear 504, never a hang."""
    assert envelope.reply_to, "await_reply needs a command sent with reply=True"
    deadline = time.monotonic() + timeout
    client = redis_client.client()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WorkerTimeout(f"The worker did not answer within {timeout:g} s.")
        try:
            # BLPOP's timeout must stay below the socket timeout of the shared client.
            item = client.blpop([envelope.reply_to], timeout=min(remaining, 1.0))
        except RedisError as exc:
            raise WorkerUnavailable("Lost Redis while waiting for the worker.") from exc
        if item is None:
            continue
        try:
            _, result = decode(item[1])
        except WireError as exc:
            raise WorkerTimeout(f"The worker answered with an unreadable reply: {exc.message}") from exc
        if isinstance(result, CommandResult):
            return result


def route_set(*, session_id: str, worker_id: str, generation: int) -> None:
    try:
        redis_client.client().hset(
            streams.route_key(session_id), mapping={"worker": worker_id, "generation": generation}
        )
    except RedisError:
        log.warning("route of %s not written to Redis; the database has it", session_id)


def route_clear(*, session_id: str) -> None:
    try:
        redis_client.client().delete(streams.route_key(session_id))
    except RedisError:
        log.warning("route of %s not cleared in Redis", session_id)


def route_get(*, session_id: str) -> dict[str, Any] | None:
    route = redis_client.client().hgetall(streams.route_key(session_id))
    return {"worker": route["worker"], "generation": int(route["generation"])} if route else None


@dataclass(frozen=True)
class RawEvent:
    """One entry of the events stream, not yet decoded."""

    entry_id: str
    raw: str | None


def events_group_ensure() -> None:
    client = redis_client.client()
    try:
        client.xgroup_create(streams.EVENTS_STREAM, streams.EVENTS_GROUP, id="0", mkstream=True)
    except RedisError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def events_read(*, consumer: str, pending: bool, count: int, block_ms: int) -> list[RawEvent]:
    """Our own pending entries first (``pending=True``, after a restart), then new ones."""
    response = redis_client.client().xreadgroup(
        streams.EVENTS_GROUP,
        consumer,
        {streams.EVENTS_STREAM: "0" if pending else ">"},
        count=count,
        block=None if pending or not block_ms else block_ms,  # BLOCK 0 would wait forever
    )
    entries = response[0][1] if response else []
    return [RawEvent(entry_id, fields.get("envelope") if fields else None) for entry_id, fields in entries]


def events_claim_stale(*, consumer: str, min_idle_ms: int, count: int) -> list[RawEvent]:
    """Take over entries another ingester read but never acknowledged (it died)."""
    _, entries, *_ = redis_client.client().xautoclaim(
        streams.EVENTS_STREAM,
        streams.EVENTS_GROUP,
        consumer,
        min_idle_time=min_idle_ms,
        start_id="0-0",
        count=count,
    )
    return [RawEvent(entry_id, fields.get("envelope") if fields else None) for entry_id, fields in entries]


def events_ack(*, entry_ids: list[str]) -> None:
    redis_client.client().xack(streams.EVENTS_STREAM, streams.EVENTS_GROUP, *entry_ids)


def events_dead_letter(*, event: RawEvent, reason: str) -> None:
    redis_client.client().xadd(
        streams.EVENTS_DEAD_LETTER,
        {
            "entry_id": event.entry_id,
            "envelope": event.raw or "",
            "reason": reason[:500],
            "at": str(time.time()),
        },
        maxlen=100_000,
        approximate=True,
    )


def events_trim_acknowledged() -> None:
    """Drop entries every consumer has acknowledged (the stream would grow forever)."""
    client = redis_client.client()
    pending = client.xpending(streams.EVENTS_STREAM, streams.EVENTS_GROUP)
    groups = {g["name"]: g for g in client.xinfo_groups(streams.EVENTS_STREAM)}
    group = groups.get(streams.EVENTS_GROUP)
    if group is None:
        return
    floor = pending["min"] if pending and pending.get("pending") else group["last-delivered-id"]
    if floor and floor != "0-0":
        client.xtrim(streams.EVENTS_STREAM, minid=floor, approximate=True)
