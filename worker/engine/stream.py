"""A session's outgoing event stream: one bounded queue, one consumer, an end marker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from shared.events import SessionEvent

log = logging.getLogger(__name__)
_END = object()


class EventStream:
    """Events stamped with the session id and generation, in order.

    A consumer that falls ``maxsize`` events behind loses the oldest one
    (logged) rather than letting a stuck consumer grow the worker's memory.
    """

    def __init__(self, session_id: str, generation: int, maxsize: int) -> None:
        self.session_id = session_id
        self.generation = generation
        self.maxsize = maxsize
        self._queue: asyncio.Queue[Any] = asyncio.Queue()

    def emit(self, model: type[SessionEvent], **fields: Any) -> None:
        event = model(session_id=self.session_id, generation=self.generation, **fields)
        if self._queue.qsize() >= self.maxsize:
            self._queue.get_nowait()
            log.warning("session %s: event queue full, dropped the oldest event", self.session_id)
        self._queue.put_nowait(event)

    def end(self) -> None:
        """Mark the end of this run: the current iterator stops after what is queued."""
        self._queue.put_nowait(_END)

    async def iterate(self) -> AsyncIterator[SessionEvent]:
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            yield item
