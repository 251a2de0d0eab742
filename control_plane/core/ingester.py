"""The event ingester: a long-running loop over the workers' events stream.

Reads with a consumer group; applies each event once (``core.ingest``), runs of
message events in one transaction; acknowledges after the commit; on start it
first finishes its own pending entries, and now and then claims entries a dead
ingester left behind. A malformed event is dead-lettered and logged; Redis or
database outages are waited out with backoff. SIGTERM finishes the current event
and exits.
"""

from __future__ import annotations

import logging
import signal
import socket
import time
from typing import Any

from django.db import InterfaceError, OperationalError, close_old_connections
from redis import RedisError

from control_plane.core import transport
from control_plane.core.ingest import BATCHABLE, DeadLetter, Outcome, decode_event, ingest, ingest_batch
from shared.envelope import Envelope

log = logging.getLogger(__name__)


class Ingester:
    def __init__(
        self,
        *,
        consumer: str | None = None,
        batch: int = 100,
        block_ms: int = 1000,
        claim_idle_ms: int = 60_000,
        linger: float = 0.05,
        recycle_connections: bool = True,
    ) -> None:
        self.consumer = consumer or f"ingester-{socket.gethostname()}"
        self.batch, self.block_ms, self.claim_idle_ms = batch, block_ms, claim_idle_ms
        self.linger = linger  # seconds to let a short read fill up (status events wait this long)
        # Drop broken or old database connections between batches (off in tests,
        # which run inside one transaction).
        self.recycle_connections = recycle_connections
        self.stopping = False
        self.counts = {outcome: 0 for outcome in Outcome}
        self._last_claim = self._last_trim = 0.0

    def install_signal_handlers(self) -> None:
        def stop(signum: int, _frame: object) -> None:
            log.info("ingester: signal %s, finishing the current event", signum)
            self.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def run(self) -> None:
        backoff = 0.5
        while not self.stopping:
            try:
                transport.events_group_ensure()
                self._drain_pending()
                while not self.stopping:
                    self.step()
                    backoff = 0.5
            except (RedisError, OSError, OperationalError, InterfaceError) as exc:
                log.warning("ingester: %s; retrying in %.1f s", exc, backoff)
                close_old_connections()
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    def _drain_pending(self) -> None:
        """Entries this consumer read before a crash but never acknowledged."""
        while not self.stopping:
            pending = transport.events_read(
                consumer=self.consumer, pending=True, count=self.batch, block_ms=0
            )
            if not pending:
                return
            self._process(pending)

    def step(self) -> int:
        """One read-and-apply round; returns how many entries it handled."""
        now = time.monotonic()
        entries = []
        if now - self._last_claim > self.claim_idle_ms / 1000:
            self._last_claim = now
            entries = transport.events_claim_stale(
                consumer=self.consumer, min_idle_ms=self.claim_idle_ms, count=self.batch
            )
        if not entries:
            entries = transport.events_read(
                consumer=self.consumer, pending=False, count=self.batch, block_ms=self.block_ms
            )
            if 0 < len(entries) < self.batch and self.linger > 0:
                # Events trickling in one at a time would each pay a transaction; a
                # short wait lets the next few join this one's batch.
                time.sleep(self.linger)
                entries += transport.events_read(
                    consumer=self.consumer, pending=False, count=self.batch - len(entries), block_ms=0
                )
        self._process(entries)
        if now - self._last_trim > 30:
            self._last_trim = now
            transport.events_trim_acknowledged()
        return len(entries)

    def _process(self, entries: list[transport.RawEvent]) -> None:
        if self.recycle_connections:
            close_old_connections()
        run: list[tuple[transport.RawEvent, Envelope, Any]] = []  # consecutive batchable events
        for entry in entries:
            if self.stopping:
                break  # what is left stays pending for the next start
            try:
                envelope, payload = decode_event(entry.raw)
            except DeadLetter as dead:
                self._apply_run(run)
                run = []
                self._dead_letter(entry, dead)
                continue
            if envelope.type in BATCHABLE:
                run.append((entry, envelope, payload))
                continue
            self._apply_run(run)
            run = []
            self._apply_one(entry)
        if not self.stopping:
            self._apply_run(run)

    def _apply_run(self, run: list[tuple[transport.RawEvent, Envelope, Any]]) -> None:
        """A run of message events in one transaction; one by one if that fails."""
        if len(run) < 2:
            for entry, _, _ in run:
                self._apply_one(entry)
            return
        try:
            outcomes = ingest_batch([(envelope, payload) for _, envelope, payload in run])
        except (OperationalError, InterfaceError):
            raise  # a database outage: the loop waits it out, the run stays pending
        except Exception as exc:  # noqa: BLE001 - the one-by-one retry logs and dead-letters it
            log.info("ingester: a run of %d events failed (%s); applying them one by one", len(run), exc)
            for entry, _, _ in run:
                self._apply_one(entry)
            return
        transport.events_ack(entry_ids=[entry.entry_id for entry, _, _ in run])
        for outcome in outcomes:
            self.counts[outcome] += 1

    def _apply_one(self, entry: transport.RawEvent) -> None:
        try:
            outcome = ingest(entry.raw)
        except DeadLetter as dead:
            self._dead_letter(entry, dead)
            return
        transport.events_ack(entry_ids=[entry.entry_id])
        self.counts[outcome] += 1

    def _dead_letter(self, entry: transport.RawEvent, dead: DeadLetter) -> None:
        log.error("ingester: dead-lettered %s: %s", entry.entry_id, dead.reason)
        transport.events_dead_letter(event=entry, reason=dead.reason)
        transport.events_ack(entry_ids=[entry.entry_id])
        self.counts[Outcome.DEAD] += 1
