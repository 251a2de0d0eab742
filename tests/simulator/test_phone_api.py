"""The simulator's phone API and page protocol, driven by a fake browser (no Chromium)."""

from __future__ import annotations

import asyncio
import base64
import hashlib

from aiohttp.test_utils import TestClient


async def test_qr_rotates_then_goes_idle_until_refresh(browser_factory):
    browser = browser_factory()
    await browser.connect()
    refs = [(await browser.recv("ref"))["ref"] for _ in range(3)]
    assert len(set(refs)) == 3 and all(r.startswith("2@") for r in refs)
    await browser.recv("idle", within=2)
    await browser.send({"t": "refresh_qr"})
    assert (await browser.recv("ref"))["ref"] not in refs


async def test_scan_links_browser_to_the_scanning_phone(client: TestClient, browser_factory):
    browser = browser_factory()
    await browser.connect()
    await browser.link("15550001111")
    listed = await (await client.get("/_sim/browsers", params={"phone": "15550001111"})).json()
    assert [b["browser_id"] for b in listed] == [browser.browser_id]
    assert listed[0]["linked"] is True


async def test_scan_of_an_old_or_forged_qr_is_refused(client: TestClient, browser_factory):
    browser = browser_factory()
    await browser.connect()
    ref = (await browser.recv("ref"))["ref"]
    keys = browser.keys()
    forged = ",".join([ref, keys["static"], base64.b64encode(b"x" * 65).decode(), keys["adv"], "Chrome"])
    resp = await client.post("/phone/15550001111/scan", json={"qr": forged})
    assert resp.status == 400
    resp = await client.post("/phone/15550001111/scan", json={"qr": "2@nope,a,b,c,d"})
    assert resp.status == 410
    assert (await resp.json())["error"]["code"] == "qr_expired"


async def test_pairing_code_links_only_the_requested_number(client: TestClient, browser_factory):
    browser = browser_factory()
    await browser.connect()
    await browser.recv("ref")
    await browser.send({"t": "pair_request", "phone": "15550003333"})
    code = (await browser.recv("pair_code"))["code"]
    wrong = await client.post("/phone/15550004444/pair", json={"code": code})
    assert wrong.status == 409
    resp = await client.post("/phone/15550003333/pair", json={"code": f"{code[:4]}-{code[4:]}"})
    assert resp.status == 200
    assert (await browser.recv("paired"))["wid"] == "15550003333"


async def test_phone_message_reaches_linked_browser_and_inbox_keeps_order(
    client: TestClient, browser_factory
):
    browser = browser_factory()
    await browser.connect()
    await browser.link("15550001111")
    for text in ("one", "two"):
        resp = await client.post("/phone/15550002222/send", json={"to": "15550001111", "text": text})
        assert resp.status == 201
    assert (await browser.recv("msg"))["text"] == "one"
    inbox = await (await client.get("/phone/15550001111/inbox")).json()
    assert [m["text"] for m in inbox] == ["one", "two"]
    assert set(inbox[0]) >= {"id", "from", "text", "received_at"} and inbox[0]["from"] == "15550002222"


async def test_browser_send_gets_server_delivered_and_read_acks(client: TestClient, browser_factory):
    await client.get("/phone/15550002222/inbox")  # the recipient's phone is online
    browser = browser_factory()
    await browser.connect()
    await browser.link("15550001111")
    await browser.send({"t": "send", "id": "3EB0AAAA", "to": "15550002222", "type": "text", "text": "hey"})
    assert (await browser.recv("send_result"))["ok"] is True
    assert (await browser.recv("ack"))["ack"] == 2
    resp = await client.post("/phone/15550002222/read", json={})
    assert (await resp.json())["read"] == 1
    assert (await browser.recv("ack"))["ack"] == 3


async def test_delivered_ack_waits_for_a_new_recipient_to_come_online(client: TestClient, browser_factory):
    browser = browser_factory()
    await browser.connect()
    await browser.link("15550001111")
    await browser.send({"t": "send", "id": "3EB0BBBB", "to": "15559990000", "type": "text", "text": "hi"})
    await browser.recv("send_result")
    await asyncio.sleep(0.1)
    inbox = await (await client.get("/phone/15559990000/inbox")).json()
    assert inbox[0]["text"] == "hi"
    frame = await browser.recv("ack")
    assert (frame["id"], frame["ack"]) == ("3EB0BBBB", 2)


async def test_media_upload_then_send_lands_with_metadata(client: TestClient, browser_factory):
    browser = browser_factory()
    await browser.connect()
    await browser.link("15550001111")
    data = b"\x89PNG fake image bytes"
    up = await (await client.post("/mms/upload", data=data, headers={"Content-Type": "image/png"})).json()
    await browser.send(
        {
            "t": "send",
            "id": "3EB0CCCC",
            "to": "15550002222",
            "type": "image",
            "caption": "look",
            "media": {"direct_path": up["direct_path"], "filename": "a.png"},
        }
    )
    assert (await browser.recv("send_result"))["ok"] is True
    item = (await (await client.get("/phone/15550002222/inbox")).json())[0]
    assert item["type"] == "image" and item["caption"] == "look" and item["mimetype"] == "image/png"
    assert item["size"] == len(data) and item["sha256"] == hashlib.sha256(data).hexdigest()


async def test_unlink_logs_the_browser_out_and_forgets_the_device(client: TestClient, browser_factory):
    browser = browser_factory()
    await browser.connect()
    await browser.link("15550001111")
    assert (await (await client.post("/phone/15550001111/unlink")).json())["unlinked"] == 1
    assert (await browser.recv("logged_out"))["reason"] == "unlinked"
    await browser.close()
    await browser.connect()  # coming back with the old device id
    assert (await browser.recv("logged_out"))["reason"] == "unknown_device"


async def test_returning_device_must_prove_its_key(client: TestClient, browser_factory):
    browser = browser_factory()
    await browser.connect()
    await browser.link("15550001111")
    await browser.close()
    await browser.connect()
    challenge = await browser.recv("challenge")
    await browser.send({"t": "auth", "sig": base64.b64encode(b"\0" * 64).decode()})
    assert (await browser.recv("logged_out"))["reason"] == "bad_signature"
    assert challenge["nonce"]


async def test_refuse_send_fault_fails_the_next_send_only(client: TestClient, browser_factory):
    browser = browser_factory()
    await browser.connect()
    await browser.link("15550001111")
    await client.post("/_sim/faults", json={"refuse_sends": {"count": 1, "reason": "blocked"}})
    for msg_id in ("3EB01", "3EB02"):
        await browser.send({"t": "send", "id": msg_id, "to": "15550002222", "type": "text", "text": "x"})
    first, second = await browser.recv("send_result"), await browser.recv("send_result")
    assert (first["ok"], first["error"], first["reason"]) == (False, "refused", "blocked")
    assert second["ok"] is True


async def test_slow_ack_fault_delays_the_send_result(client: TestClient, browser_factory):
    browser = browser_factory()
    await browser.connect()
    await browser.link("15550001111")
    await client.post("/_sim/faults", json={"ack_delay": 0.5})
    loop = asyncio.get_running_loop()
    started = loop.time()
    await browser.send({"t": "send", "id": "3EB0D", "to": "15550002222", "type": "text", "text": "x"})
    await browser.recv("send_result")
    assert loop.time() - started >= 0.45


async def test_drop_fault_closes_the_socket_and_blocks_reconnects(client: TestClient, browser_factory):
    browser = browser_factory()
    await browser.connect()
    await browser.recv("ref")
    resp = await client.post(f"/_sim/browsers/{browser.browser_id}/drop", json={"block_s": 5})
    assert (await resp.json())["dropped"] is True
    assert browser.ws is not None
    await browser.ws.receive()
    assert browser.ws.closed
    refused = await client.get(f"/ws?browser_id={browser.browser_id}")
    assert refused.status == 503


async def test_expire_qr_fault_issues_the_next_code_at_once(client: TestClient, browser_factory, sim_config):
    browser = browser_factory()
    await browser.connect()
    first = (await browser.recv("ref"))["ref"]
    await client.post(f"/_sim/browsers/{browser.browser_id}/expire-qr")
    second = await browser.recv("ref", within=sim_config.qr_interval / 2)
    assert second["ref"] != first


async def test_waiting_list_shows_unpaired_browsers_with_their_qr(client: TestClient, browser_factory):
    browser = browser_factory()
    await browser.connect()
    ref = (await browser.recv("ref"))["ref"]
    waiting = await (await client.get("/_sim/browsers", params={"waiting": "1"})).json()
    assert waiting[0]["browser_id"] == browser.browser_id
    assert waiting[0]["qr"].split(",")[0] == ref and len(waiting[0]["qr"].split(",")) == 5


async def test_health_and_validation(client: TestClient):
    assert (await (await client.get("/health")).json())["status"] == "ok"
    assert (await client.post("/phone/12/send", json={"to": "15550001111", "text": "x"})).status == 400
    assert (await client.post("/phone/15550001111/send", json={"to": "x", "text": "x"})).status == 400


async def test_pages_and_assets_are_served_from_the_package(client: TestClient):
    index = await client.get("/")
    html = await index.text()
    assert index.status == 200 and '"pageWeightMb": 0' in html and "/static/wa-modules.js" in html
    assert '"pageWeightMb": 40' in await (await client.get("/?page_weight_mb=40")).text()
    phone_page = await client.get("/phone")
    assert phone_page.status == 200 and "/static/phone.js" in await phone_page.text()
    for asset in (
        "wa-modules.js",
        "wa-store.js",
        "wa-app.js",
        "wa-ui.js",
        "wa-weight.js",
        "phone.js",
        "wa.css",
    ):
        assert (await client.get(f"/static/{asset}")).status == 200
    assert (await client.get("/static/../app.py")).status == 404
    svg = await client.get("/qr.svg", params={"data": "2@abc,def"})
    assert svg.status == 200 and svg.content_type == "image/svg+xml"


async def test_same_browser_connecting_twice_gives_the_older_socket_a_conflict(
    client: TestClient, browser_factory
):
    first = browser_factory("samebrowser01")
    await first.connect()
    await first.link("15550001111")
    second = browser_factory("samebrowser01")
    second.identity, second.device_id = first.identity, first.device_id  # a copied profile
    await second.connect()
    await first.recv("conflict")
    await second.recv("connected")


async def test_a_profile_restored_in_another_browser_gets_its_frames_live(
    client: TestClient, browser_factory
):
    """A session restored on another machine authenticates from a new browser id: acks
    and incoming messages must be pushed there, not queued for the old browser."""
    await client.get("/phone/15550002222/inbox")  # the recipient's phone is online
    original = browser_factory("original0001")
    await original.connect()
    await original.link("15550001111")
    await original.close()
    restored = browser_factory("restored0001")
    restored.identity, restored.device_id = original.identity, original.device_id
    await restored.connect()
    await restored.recv("connected")
    await restored.send({"t": "send", "id": "3EB0CCCC", "to": "15550002222", "type": "text", "text": "back"})
    assert (await restored.recv("send_result"))["ok"] is True
    assert (await restored.recv("ack"))["ack"] == 2
    await client.post("/phone/15550002222/send", json={"to": "15550001111", "text": "welcome back"})
    assert (await restored.recv("msg"))["text"] == "welcome back"


async def test_the_webhook_sink_records_what_it_receives(client: TestClient):
    response = await client.post(
        "/_sim/sink/demo?status=503",
        data=b'{"event": "x"}',
        headers={"X-Wagate-Delivery": "dlv_1", "Content-Type": "application/json"},
    )
    assert response.status == 503
    await client.post("/_sim/sink/demo", data=b"second")
    received = await (await client.get("/_sim/sink/demo")).json()
    assert [r["body"] for r in received] == ['{"event": "x"}', "second"]
    assert received[0]["headers"]["X-Wagate-Delivery"] == "dlv_1"
    assert await (await client.get("/_sim/sink/other")).json() == []
