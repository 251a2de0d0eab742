"""A steady stream of sends through the public API, and the exactly-once check."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.stack import wait_until
from tests.wholestack import WholeStack


@dataclass
class Line:
    """One linked session and the phone it writes to."""

    customer: Any
    session_id: str
    phone: str
    recipient: str


@dataclass
class Traffic:
    """Sends ``rate`` messages a second, round-robin over the lines, from a thread.
    Every 202 is recorded; anything else (e.g. 503 while Redis is down) is not a
    promise and is only counted."""

    stack: WholeStack
    lines: list[Line]
    rate: float = 4.0
    accepted: dict[str, tuple[Line, str]] = field(default_factory=dict)  # message id -> (line, text)
    refused: Counter = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _n: int = 0

    def start(self) -> Traffic:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set():
            line = self.lines[self._n % len(self.lines)]
            self._n += 1
            text = f"chaos-{self._n}-{time.monotonic_ns()}"
            try:
                response = line.customer.api.post(
                    f"/v1/sessions/{line.session_id}/messages",
                    json={"to": line.recipient, "text": text},
                    timeout=10,
                )
            except httpx.HTTPError as exc:
                self.refused[type(exc).__name__] += 1
            else:
                if response.status_code == 202:
                    self.accepted[response.json()["id"]] = (line, text)
                else:
                    self.refused[response.status_code] += 1
            time.sleep(1 / self.rate)

    def assert_exactly_once(self, within: float = 180.0) -> None:
        """Every accepted message reaches its recipient's inbox exactly once."""
        assert self.accepted, "no message was accepted"

        def delivered() -> bool:
            return all(count == 1 for count in self._inbox_counts().values()) and len(
                self._inbox_counts()
            ) == len(self.accepted)

        try:
            wait_until(delivered, within, "every accepted message in its inbox", every=1.0)
        except AssertionError:
            counts = self._inbox_counts()
            missing = [text for _, text in self.accepted.values() if counts.get(text, 0) == 0]
            doubled = [text for text, n in counts.items() if n > 1]
            raise AssertionError(
                f"{len(self.accepted)} accepted, {len(missing)} missing {missing[:5]}, "
                f"{len(doubled)} doubled {doubled[:5]}\n{self.stack.logs_tail()}"
            ) from None

    def _inbox_counts(self) -> Counter:
        wanted = {text for _, text in self.accepted.values()}
        counts: Counter = Counter()
        for recipient in {line.recipient for line in self.lines}:
            for message in self.stack.inbox(recipient):
                if message.get("text") in wanted:
                    counts[message["text"]] += 1
        return counts
