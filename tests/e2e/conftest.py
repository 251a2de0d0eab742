"""Whole-stack journeys: fixtures shared by the e2e modules."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.wholestack import WholeStack


class LiveFeed:
    """A customer's websocket, collected in the background."""

    def __init__(self, stack: WholeStack, access_token: str, query: str = "") -> None:
        ws_url = stack.url.replace("http://", "ws://") + f"/ws/?token={access_token}{query}"
        self._connection = connect(ws_url, origin=stack.url, open_timeout=10)
        self.socket = self._connection.__enter__()  # websockets 17: connections are context managers
        self.error: Exception | None = None
        self.messages: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for raw in self.socket:
                self.messages.append(json.loads(raw))
        except Exception as exc:  # noqa: BLE001 - the socket closed; the test reads what arrived
            self.error = exc

    def events(self, name: str, session: str | None = None) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages
            if m.get("event") == name and (session is None or m["session"] == session)
        ]

    def close(self) -> None:
        self._connection.__exit__(None, None, None)
        self._thread.join(5)


@pytest.fixture
def live_feed() -> Iterator[Any]:
    feeds: list[LiveFeed] = []

    def open_feed(stack: WholeStack, token: str, query: str = "") -> LiveFeed:
        feed = LiveFeed(stack, token, query)
        feeds.append(feed)
        return feed

    yield open_feed
    for feed in feeds:
        feed.close()


def access_token(customer: Any) -> str:
    return customer.client.headers["Authorization"].split(" ", 1)[1]
