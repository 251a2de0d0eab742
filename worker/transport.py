"""The worker's one door to Redis: commands in, events out, replies, dead letters.

This is the only module that serialises to or from Redis (STYLE habit 4):

- commands: ``XREADGROUP`` on ``commands_stream(worker_id)``, group
  ``COMMANDS_GROUP``, consumer = the worker id (stable across restarts, so
  reading id ``0`` returns what this worker had pending when it stopped);
  ``XAUTOCLAIM`` takes over entries another consumer of the group left;
- events: ``XADD`` of one field ``envelope`` to ``EVENTS_STREAM`` (never
  trimmed here: the ingester owns it);
- replies: ``LPUSH`` + ``EXPIRE`` on the command's ``reply_to`` key;
- dead letters: ``XADD`` to ``commands_dead_letter(worker_id)``.

Every redis error leaves as :class:`RedisUnavailable` (retryable).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from shared import streams
from shared.envelope import Envelope, WireError, WireModel, decode, encode
from shared.events import CommandResult
from worker.errors import RedisUnavailable

log = logging.getLogger(__name__)
FIELD = "envelope"
REPLY_TTL = 60  # seconds a reply waits for its reader
DEAD_LETTER_MAXLEN = 10_000  # the dead-letter stream is ours to bound; about this many stay


MAX_CONNECTIONS = 50
CONNECTION_WAIT = 20.0  # seconds a call waits for a free connection before it fails


@dataclass(frozen=True)
class Delivery:
    """One command entry as read from the stream: decoded, or the reason it cannot be."""

    entry_id: str
    raw: str | None
    envelope: Envelope | None = None
    command: WireModel | None = None
    error: WireError | None = None


class Transport:
    """Redis streams of one worker (see the module docstring)."""

    def __init__(self, redis_url: str, worker_id: str, max_connections: int = MAX_CONNECTIONS) -> None:
        self.worker_id = worker_id
        self.stream = streams.commands_stream(worker_id)
        self.dead_letter_stream = streams.commands_dead_letter(worker_id)
        # A burst (hundreds of commands read ahead, each answering at once) waits for a
        # free connection instead of failing with "Too many connections".
        pool = aioredis.BlockingConnectionPool.from_url(
            redis_url,
            max_connections=max_connections,
            timeout=CONNECTION_WAIT,
            decode_responses=True,
            socket_connect_timeout=5,
            socket_timeout=15,
        )
        self._redis: aioredis.Redis = aioredis.Redis.from_pool(pool)  # closes the pool with the client

    async def aclose(self) -> None:
        await self._redis.aclose()

    @asynccontextmanager
    async def _calling(self, what: str) -> AsyncIterator[None]:
        try:
            yield
        except (RedisError, OSError) as exc:
            raise RedisUnavailable(f"redis {what}: {type(exc).__name__}: {exc}") from exc

    # -- commands -----------------------------------------------------------------
    async def ensure_group(self) -> None:
        """Create the consumer group (and the stream) if missing; reading starts at the beginning."""
        async with self._calling("XGROUP CREATE"):
            try:
                await self._redis.xgroup_create(self.stream, streams.COMMANDS_GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def claim_abandoned(self, min_idle_ms: int = 0) -> int:
        """Take over entries other consumers of the group left pending; returns how many."""
        claimed, start = 0, "0-0"
        async with self._calling("XAUTOCLAIM"):
            summary = await self._redis.xpending(self.stream, streams.COMMANDS_GROUP)
            if not [c for c in summary.get("consumers") or [] if str(c["name"]) != self.worker_id]:
                return 0  # nothing left by others (claiming our own would only inflate delivery counts)
            while True:
                reply = await self._redis.xautoclaim(
                    self.stream, streams.COMMANDS_GROUP, self.worker_id, min_idle_ms, start, count=100
                )
                start, entries = reply[0], reply[1]
                claimed += len(entries)
                if start in ("0-0", b"0-0"):
                    return claimed

    async def read_pending(self, count: int = 100) -> list[Delivery]:
        """Entries delivered to this consumer and never acknowledged (oldest first)."""
        out: list[Delivery] = []
        last = "0"
        async with self._calling("XREADGROUP 0"):
            while True:
                reply = await self._redis.xreadgroup(
                    streams.COMMANDS_GROUP, self.worker_id, {self.stream: last}, count=count
                )
                entries = _entries(reply)
                if not entries:
                    return out
                out += [self._delivery(entry_id, fields) for entry_id, fields in entries]
                last = entries[-1][0]

    async def read_new(self, count: int, block_ms: int) -> list[Delivery]:
        """New entries, waiting up to ``block_ms`` for the first one."""
        async with self._calling("XREADGROUP >"):
            reply = await self._redis.xreadgroup(
                streams.COMMANDS_GROUP, self.worker_id, {self.stream: ">"}, count=count, block=block_ms
            )
        return [self._delivery(entry_id, fields) for entry_id, fields in _entries(reply)]

    async def delivery_counts(self) -> dict[str, int]:
        """How often each entry pending for this consumer has been delivered (oldest 1000)."""
        async with self._calling("XPENDING"):
            rows = await self._redis.xpending_range(
                self.stream, streams.COMMANDS_GROUP, min="-", max="+", count=1000, consumername=self.worker_id
            )
        return {str(row["message_id"]): int(row["times_delivered"]) for row in rows}

    async def ack(self, entry_id: str) -> None:
        async with self._calling("XACK"):
            await self._redis.xack(self.stream, streams.COMMANDS_GROUP, entry_id)

    def _delivery(self, entry_id: str, fields: dict[str, Any] | None) -> Delivery:
        if fields is None:  # deleted from the stream while pending
            error = WireError("malformed", "the entry was deleted before it was read")
            return Delivery(entry_id, None, error=error)
        raw = fields.get(FIELD)
        if not isinstance(raw, str):
            names = ", ".join(sorted(fields)) or "none"
            error = WireError("malformed", f"an entry has one field {FIELD!r} (got: {names})")
            return Delivery(entry_id, None, error=error)
        try:
            envelope, command = decode(raw)
        except WireError as exc:
            return Delivery(entry_id, raw, error=exc)
        return Delivery(entry_id, raw, envelope=envelope, command=command)

    async def dead_letter(self, delivery: Delivery, code: str, reason: str) -> None:
        """Keep a command that could not be processed, with why, for an operator."""
        fields: dict[Any, Any] = {
            "entry_id": delivery.entry_id,
            "worker_id": self.worker_id,
            "code": code,
            "reason": reason[:2000],
            "raw": (delivery.raw or "")[:100_000],
            "failed_at": datetime.now(UTC).isoformat(),
        }
        async with self._calling("XADD dead letter"):
            await self._redis.xadd(
                self.dead_letter_stream, fields, maxlen=DEAD_LETTER_MAXLEN, approximate=True
            )

    # -- events and replies ---------------------------------------------------------
    async def publish(self, event: WireModel) -> str:
        """Append one event (a fresh envelope id, ``source`` = this worker); returns the envelope id."""
        envelope = encode(event, source=self.worker_id)
        async with self._calling("XADD event"):
            await self._redis.xadd(streams.EVENTS_STREAM, {FIELD: envelope.to_json()})
        return envelope.id

    async def reply(self, reply_to: str, result: CommandResult) -> None:
        """Answer a request/reply command on its key (the sender BLPOPs it)."""
        envelope = encode(result, source=self.worker_id)
        async with self._calling("LPUSH reply"), self._redis.pipeline(transaction=True) as pipe:
            pipe.lpush(reply_to, envelope.to_json())
            pipe.expire(reply_to, REPLY_TTL)
            await pipe.execute()


def _entries(reply: Any) -> list[tuple[str, dict[str, Any] | None]]:
    """The (id, fields) pairs of a one-stream XREADGROUP reply: ``[[stream, [(id, fields)...]]]``."""
    if not reply:
        return []
    per_stream = list(reply.values()) if isinstance(reply, dict) else [item[1] for item in reply]
    entries = per_stream[0] if per_stream else []
    return [(str(entry[0]), entry[1]) for entry in entries]
