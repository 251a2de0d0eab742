"""Simulator state: the optional state file and the memory bounds."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from simulator.app import create_app
from simulator.config import SimulatorConfig
from simulator.model import InboxMessage
from simulator.store import Store


async def test_state_file_keeps_accounts_devices_and_inboxes_across_restarts(tmp_path: Path):
    config = SimulatorConfig(state_file=tmp_path / "state.json")
    async with TestClient(TestServer(create_app(config), host="127.0.0.1")) as client:
        await client.post("/phone/15550002222/send", json={"to": "15550001111", "text": "kept"})
    assert (tmp_path / "state.json").exists()
    async with TestClient(TestServer(create_app(config), host="127.0.0.1")) as client:
        inbox = await (await client.get("/phone/15550001111/inbox")).json()
    assert [m["text"] for m in inbox] == ["kept"]


def test_inbox_and_accounts_are_bounded():
    store = Store(SimulatorConfig(max_inbox=3, max_accounts=5))
    for i in range(10):
        store.deliver_to_inbox(
            "15550001111", InboxMessage(id=str(i), sender="1555", text=str(i), received_at=i)
        )
    assert [m.id for m in store.account("15550001111").inbox] == ["7", "8", "9"]
    for i in range(10):
        store.account(f"1555000{i:04d}")
    assert len(store.accounts) == 5 and "15550001111" not in store.accounts


def test_state_round_trips_through_json(tmp_path: Path):
    store = Store(SimulatorConfig())
    device = store.link("15550001111", "a2V5", "browser0001")
    store.queue(device, {"t": "msg", "id": "x"})
    store.save(tmp_path / "s.json")
    again = Store(SimulatorConfig())
    again.load_file(tmp_path / "s.json")
    assert again.devices[device.device_id].phone == "15550001111"
    assert next(iter(again.devices[device.device_id].pending))["id"] == "x"
