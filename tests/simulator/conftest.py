"""Simulator fixtures: an in-process app for protocol tests, a fake browser over websocket."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession, ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from simulator.app import create_app
from simulator.config import SimulatorConfig


class FakeBrowser:
    """Speaks the page's websocket protocol from Python (no Chromium needed)."""

    def __init__(self, client: TestClient, browser_id: str) -> None:
        self.client = client
        self.browser_id = browser_id
        self.identity = ec.generate_private_key(ec.SECP256R1())
        self.ws: ClientWebSocketResponse | None = None
        self.device_id: str | None = None

    def keys(self) -> dict[str, str]:
        pub = self.identity.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "static": base64.b64encode(b"s" * 65).decode(),
            "identity": base64.b64encode(pub).decode(),
            "adv": base64.b64encode(b"a" * 32).decode(),
            "platform": "Chrome",
        }

    async def connect(self) -> None:
        self.ws = await self.client.ws_connect(f"/ws?browser_id={self.browser_id}")
        await self.send({"t": "hello", "device_id": self.device_id, "keys": self.keys()})

    async def send(self, frame: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_json(frame)

    async def recv(self, kind: str, within: float = 5.0) -> dict[str, Any]:
        """Next frame of type ``kind`` (answering challenges and skipping others on the way)."""
        assert self.ws is not None
        async with asyncio.timeout(within):
            while True:
                msg = await self.ws.receive()
                if msg.type != WSMsgType.TEXT:
                    raise AssertionError(f"websocket closed while waiting for {kind!r}")
                frame = json.loads(msg.data)
                if frame["t"] == "challenge" and kind != "challenge":
                    await self.answer(frame)
                    continue
                if frame["t"] == kind:
                    return frame

    async def answer(self, challenge: dict[str, Any]) -> None:
        der = self.identity.sign(base64.b64decode(challenge["nonce"]), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        await self.send(
            {"t": "auth", "sig": base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()}
        )

    async def link(self, phone: str) -> None:
        """Scan this browser's QR from the phone and finish pairing."""
        ref = await self.recv("ref")
        qr = ",".join([ref["ref"], *list(self.keys().values())])
        resp = await self.client.post(f"/phone/{phone}/scan", json={"qr": qr})
        assert resp.status == 200, await resp.text()
        paired = await self.recv("paired")
        self.device_id = paired["device_id"]
        await self.send({"t": "paired_ok"})
        await self.recv("connected")

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


@pytest.fixture
def sim_config() -> SimulatorConfig:
    return SimulatorConfig(qr_interval=0.3, refs_per_batch=3, reconnect_delay=0.1)


@pytest.fixture
async def client(sim_config: SimulatorConfig) -> AsyncIterator[TestClient]:
    server = TestServer(create_app(sim_config), host="127.0.0.1")
    async with TestClient(server) as test_client:
        yield test_client


@pytest.fixture
def browser_factory(client: TestClient):
    made: list[FakeBrowser] = []

    def make(browser_id: str = "browser0001") -> FakeBrowser:
        browser = FakeBrowser(client, browser_id)
        made.append(browser)
        return browser

    return make


__all__ = ["ClientSession", "FakeBrowser"]
