"""Publishing events that must not be lost while Redis is briefly away."""

from __future__ import annotations

import asyncio
import logging

from shared.envelope import WireModel
from worker.engine import Backoff
from worker.errors import RedisUnavailable
from worker.transport import Transport

log = logging.getLogger(__name__)
BACKOFF = Backoff(initial=0.2, factor=2.0, maximum=5.0, attempts=1_000_000)
ATTEMPTS_WHEN_STOPPING = 3


class Outbox:
    """Publishes each event, retrying with backoff until Redis takes it.

    Once the worker is stopping it tries only a few more times, so a dead
    Redis cannot hold the shutdown hostage; what is dropped then is logged.
    """

    def __init__(self, transport: Transport, stopping: asyncio.Event) -> None:
        self._transport = transport
        self._stopping = stopping

    async def publish(self, event: WireModel) -> bool:
        """True once published; False only if it was given up during shutdown."""
        for attempt in range(1, BACKOFF.attempts + 1):
            try:
                await self._transport.publish(event)
                return True
            except RedisUnavailable as exc:
                if self._stopping.is_set() and attempt >= ATTEMPTS_WHEN_STOPPING:
                    log.error("dropped a %s event while stopping: %s", event.TYPE, exc)
                    return False
                delay = BACKOFF.delay(attempt)
                if attempt in (1, 10) or attempt % 100 == 0:
                    log.warning("cannot publish %s (%s); retrying every %.1fs", event.TYPE, exc, delay)
                await asyncio.sleep(delay)
        return False
