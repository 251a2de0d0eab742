"""The control plane's only door to the Redis wire: commands out, replies back,
routes, and the events stream the ingester reads.

Everything crossing the wire is a shared envelope (``shared.envelope``);
nothing else in the control plane serialises commands or events.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
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


class _Outbox:
    """Commands handed over after a commit, written to the workers' streams by one
    thread per process, as many as are waiting in one pipeline. A send's own XADD
    round trip cost 150-250 µs of its CPU (~15 %); under load a pipeline carries
    the hand-overs of several requests at once.

    The request still waits until its command is on the stream (or the write
    failed), so a 202 means what it always meant, and two sends a client makes one
    after the other reach the worker in that order. A command the outbox cannot
    write (Redis down) is logged and left to the sweeper, as a failed XADD always
    was: the message row is already committed, marked handed over."""

    BATCH = 200

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a child starts with no thread

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[str, str, threading.Event] | threading.Event] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None

    def put(self, stream: str, payload: str) -> threading.Event:
        """Queue one XADD; the event is set once it is written or given up."""
        done = threading.Event()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="command-outbox", daemon=True)
                self._thread.start()
            self._queue.put((stream, payload, done))
        return done

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything put so far is written (tests, shutdown)."""
        if self._thread is None:
            return True
        written = threading.Event()
        self._queue.put(written)
        return written.wait(timeout)

    def _run(self) -> None:
        while True:
            batch: list[tuple[str, str, threading.Event]] = []
            markers: list[threading.Event] = []
            item = self._queue.get()
            while True:
                if isinstance(item, threading.Event):
                    markers.append(item)
                else:
                    batch.append(item)
                if len(batch) >= self.BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            try:
                if batch:
                    self._write(batch)
            except Exception:  # a bug here must not silently stop every later hand-over
                log.exception(
                    "the command outbox failed on %d commands; the sweeper resends them", len(batch)
                )
            finally:
                for event in [done for _, _, done in batch] + markers:
                    event.set()

    @staticmethod
    def _write(batch: list[tuple[str, str, threading.Event]]) -> None:
        try:
            pipe = redis_client.client().pipeline(transaction=False)
            for stream, payload, _ in batch:
                pipe.xadd(stream, {"envelope": payload})
            results = pipe.execute(raise_on_error=False)
        except RedisError as exc:
            results = [exc] * len(batch)
        failed = [result for result in results if isinstance(result, Exception)]
        if failed:
            log.warning("%d commands not handed over (%s); the sweeper resends them", len(failed), failed[0])


_outbox = _Outbox()
atexit.register(_outbox.flush, 2.0)


def send_command_soon(*, worker_id: str, command: WireModel, wait: float) -> bool:
    """Hand a command to the process's outbox (see :class:`_Outbox`) and wait up to
    ``wait`` seconds for it to be written; for hand-overs that a sweeper repeats if
    they are lost, never for a reply. Returns whether it was written in time."""
    done = _outbox.put(streams.commands_stream(worker_id), encode(command, source=SOURCE).to_json())
    return done.wait(wait)


def outbox_flush(timeout: float = 5.0) -> bool:
    return _outbox.flush(timeout)


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
