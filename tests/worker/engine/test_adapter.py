"""The adapter's reading of what the injected script reports (no browser)."""

from __future__ import annotations

from shared.types import AckLevel, MessageKind
from worker.engine.adapter import (
    AckSignal,
    Link,
    LogoutSignal,
    MessageSignal,
    QrSignal,
    StateSignal,
    SyncedSignal,
    classify,
    parse_signal,
)


def test_incoming_text_message():
    signal = parse_signal(
        "message",
        {
            "id": "false_15551@c.us_3EB0A",
            "remote": "15551@c.us",
            "from": "15551@c.us",
            "type": "chat",
            "body": "hi",
            "t": 1700000000,
        },
    )
    assert isinstance(signal, MessageSignal)
    assert (signal.chat, signal.sender, signal.kind, signal.text) == (
        "15551",
        "15551",
        MessageKind.TEXT,
        "hi",
    )


def test_group_message_keeps_the_group_id_as_chat():
    signal = parse_signal(
        "message",
        {
            "id": "x",
            "remote": "1203@g.us",
            "from": "15551@c.us",
            "type": "image",
            "caption": "c",
            "mimetype": "image/png",
        },
    )
    assert isinstance(signal, MessageSignal)
    assert (signal.chat, signal.sender, signal.kind, signal.text) == (
        "1203@g.us",
        "15551",
        MessageKind.IMAGE,
        None,
    )


def test_system_messages_are_ignored():
    assert parse_signal("message", {"id": "x", "remote": "1@c.us", "type": "e2e_notification"}) is None


def test_acks_map_whatsapp_levels():
    assert parse_signal("ack", {"id": "m", "ack": 2}) == AckSignal("m", AckLevel.DELIVERED)
    assert parse_signal("ack", {"id": "m", "ack": 4}) == AckSignal("m", AckLevel.READ)
    assert parse_signal("ack", {"id": "m", "ack": 0}) is None
    assert parse_signal("ack", {"id": "m", "ack": -1}) is None


def test_state_qr_synced_logout():
    assert parse_signal("state", {"state": "UNPAIRED"}) == StateSignal(Link.NEEDS_QR, "UNPAIRED")
    assert [classify(s) for s in ("CONNECTED", "UNPAIRED_IDLE", "TIMEOUT", "CONFLICT", "TOS_BLOCK")] == [
        Link.ONLINE,
        Link.QR_EXHAUSTED,
        Link.CONNECTING,
        Link.CONFLICT,
        Link.BLOCKED,
    ]
    assert parse_signal("qr", {"qr": "2@a,b,c,d,e"}) == QrSignal("2@a,b,c,d,e")
    synced = parse_signal(
        "synced", {"phone": "1555", "platform": "android", "waVersion": "2.3", "hasSynced": True}
    )
    assert (
        isinstance(synced, SyncedSignal) and synced.info.phone == "1555" and synced.info.wa_version == "2.3"
    )
    assert parse_signal("logout", {"source": "logout_from_bridge"}) == LogoutSignal("logout_from_bridge")
    assert parse_signal("unknown", {}) is None
