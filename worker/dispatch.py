"""The command loop: read this worker's stream, run one handler per command, acknowledge.

Rules (docs/worker.md):

- on start, and after every Redis outage, entries this worker left pending
  are processed before new ones; one delivered more than ``MAX_DELIVERIES``
  times (it crashed or stalled the worker each time) is dead-lettered instead;
- a malformed or unknown command is logged, dead-lettered, answered with a
  ``command.failed`` event (and on its reply key) and acknowledged; it never
  stops the loop;
- session commands are fenced by generation and run one at a time per
  session, in stream order; different sessions run concurrently (32 handlers
  at a time, 256 entries read ahead);
- each handler runs under its own timeout; any failure becomes a
  ``command.failed`` event, never a crash;
- an entry is acknowledged only after its handler finished and its outcome
  was published; if Redis is gone by then it stays pending and is processed
  again after the reconnect (handlers are idempotent for a repeated entry).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import replace
from typing import Any

from shared.commands import SessionCommand
from shared.envelope import WireError
from shared.events import CommandFailed, CommandResult
from worker.engine import EngineError
from worker.errors import CommandRefused, RedisUnavailable, WorkerError
from worker.handlers import HANDLERS, HandlerContext, Outcome
from worker.runner import describe
from worker.transport import Delivery, Transport

log = logging.getLogger(__name__)
MAX_RUNNING = 32  # handlers running at once (across sessions)
MAX_READ_AHEAD = 256  # entries read and not finished yet (waiting for their session included)
READ_BLOCK_MS = 1000
# An entry read this often without being acknowledged has crashed or stalled the worker each
# time (every start claims its pending entries again): it is dead-lettered, not run again.
MAX_DELIVERIES = 5


class CommandLoop:
    """Reads commands and runs each in its own task (see the module docstring)."""

    def __init__(self, transport: Transport, ctx: HandlerContext) -> None:
        self._transport = transport
        self._ctx = ctx
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._running = asyncio.Semaphore(MAX_RUNNING)
        self._room = asyncio.Event()
        self._room.set()

    async def run(self) -> None:
        """Forever (until cancelled): backlog first, then new entries."""
        backlog, failures = True, 0
        while True:
            try:
                if backlog:
                    await self._transport.ensure_group()
                    claimed = await self._transport.claim_abandoned()
                    deliveries = await self._poison_checked(await self._transport.read_pending())
                    if deliveries:
                        log.info(
                            "processing %d pending command(s) first (%d claimed)", len(deliveries), claimed
                        )
                    backlog = False
                else:
                    await self._room.wait()
                    deliveries = await self._transport.read_new(self._free(), READ_BLOCK_MS)
                failures = 0
            except RedisUnavailable as exc:
                failures += 1
                delay = min(30.0, 0.5 * 2**failures)
                log.warning("command stream unavailable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                backlog = True
                continue
            for delivery in deliveries:
                if delivery.entry_id not in self._in_flight:
                    self._spawn(delivery)

    async def _poison_checked(self, deliveries: list[Delivery]) -> list[Delivery]:
        if not deliveries:
            return deliveries
        counts = await self._transport.delivery_counts()
        checked = []
        for delivery in deliveries:
            times = counts.get(delivery.entry_id, 0)
            if times > MAX_DELIVERIES and delivery.error is None and delivery.envelope is not None:
                envelope = delivery.envelope
                error = WireError(
                    "poison",
                    f"delivered {times} times without completing; not run again",
                    envelope_id=envelope.id,
                    type_name=envelope.type,
                    reply_to=envelope.reply_to,
                )
                delivery = replace(delivery, error=error)
            checked.append(delivery)
        return checked

    def _free(self) -> int:
        return max(1, MAX_READ_AHEAD - len(self._in_flight))

    def _spawn(self, delivery: Delivery) -> None:
        entry_id = delivery.entry_id
        task = asyncio.create_task(self._process(delivery), name=f"command-{entry_id}")
        self._in_flight[entry_id] = task
        if len(self._in_flight) >= MAX_READ_AHEAD:
            self._room.clear()
        task.add_done_callback(lambda _: self._finished(entry_id))

    def _finished(self, entry_id: str) -> None:
        self._in_flight.pop(entry_id, None)
        if len(self._in_flight) < MAX_READ_AHEAD:
            self._room.set()

    async def drain(self, within: float) -> None:
        """Shutdown: let running commands finish for ``within`` seconds, cancel the rest
        (they stay pending in Redis and run again after the restart)."""
        tasks = list(self._in_flight.values())
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=within)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if pending:
            log.warning("shutdown: %d command(s) cancelled unfinished; they stay pending", len(pending))

    async def _process(self, delivery: Delivery) -> None:
        try:
            await self._handle(delivery)
            await self._transport.ack(delivery.entry_id)
        except RedisUnavailable as exc:
            log.warning("command %s left pending (Redis: %s)", delivery.entry_id, exc)

    async def _handle(self, delivery: Delivery) -> None:
        if delivery.error is not None:
            error = delivery.error
            log.warning("rejected command entry %s: %s: %s", delivery.entry_id, error.code, error.message)
            await self._transport.dead_letter(delivery, error.code, error.message)
            await self._refuse(
                error.envelope_id, error.type_name, None, error.reply_to, error.code, error.message
            )
            return
        envelope, command = delivery.envelope, delivery.command
        assert envelope is not None and command is not None
        spec = HANDLERS.get(type(command))
        session_id = command.session_id if isinstance(command, SessionCommand) else None
        if spec is None:
            reason = f"{envelope.type!r} is not a command a worker carries out"
            log.warning("rejected command %s: %s", envelope.id, reason)
            await self._transport.dead_letter(delivery, "unknown_type", reason)
            await self._refuse(
                envelope.id, envelope.type, session_id, envelope.reply_to, "unknown_type", reason
            )
            return
        lock = self._ctx.registry.lock(session_id) if session_id else contextlib.nullcontext()
        # The session's turn first, then a running slot: commands queued behind one busy
        # session never hold slots the other sessions need.
        async with lock, self._running:
            started = time.monotonic()
            outcome = await self._run(spec.handle, spec.timeout, command, envelope.type)
            log.info(
                "command %s %s%s: %s in %.2fs",
                envelope.type,
                envelope.id,
                f" ({session_id})" if session_id else "",
                "ok" if outcome.ok else f"{outcome.code}: {outcome.reason}",
                time.monotonic() - started,
            )
        if outcome.refused:
            code, reason = outcome.code or "failed", outcome.reason or ""
            await self._refuse(envelope.id, envelope.type, session_id, None, code, reason)
        if envelope.reply_to:
            result = CommandResult(
                command_id=envelope.id,
                ok=outcome.ok,
                code=outcome.code,
                reason=outcome.reason,
                data=outcome.data,
            )
            await self._transport.reply(envelope.reply_to, result)

    async def _run(self, handle: Any, limit: float, command: Any, type_name: str) -> Outcome:
        """Run one handler; every way it can fail becomes a refused Outcome."""
        try:
            if isinstance(command, SessionCommand):
                self._ctx.registry.fence(command.session_id, command.generation)
            async with asyncio.timeout(limit):
                result: Outcome = await handle(self._ctx, command)
                return result
        except CommandRefused as exc:
            return _refused(exc.code, exc.reason)
        except TimeoutError:
            return _refused("timeout", f"{type_name} did not finish within {limit:g}s")
        except RedisUnavailable:
            raise
        except (WorkerError, EngineError) as exc:
            code = "unavailable" if exc.retryable else "failed"
            return _refused(code, describe(exc))
        except Exception as exc:  # a bug in one handler must not stop the loop (zulip's rule)
            log.exception("command %s failed unexpectedly", type_name)
            return _refused("internal_error", describe(exc))

    async def _refuse(
        self,
        command_id: str | None,
        type_name: str | None,
        session_id: str | None,
        reply_to: str | None,
        code: str,
        reason: str,
    ) -> None:
        event = CommandFailed(
            command_id=command_id, command_type=type_name, session_id=session_id, code=code, reason=reason
        )
        await self._transport.publish(event)
        if reply_to and command_id:
            result = CommandResult(command_id=command_id, ok=False, code=code, reason=reason)
            await self._transport.reply(reply_to, result)


def _refused(code: str, reason: str) -> Outcome:
    return Outcome(ok=False, code=code, reason=reason, refused=True)
