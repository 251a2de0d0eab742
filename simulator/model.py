"""The simulator's records: accounts (phones), linked devices, inbox messages.

Plain dataclasses with ``to_dict``/``from_dict`` so the optional state file
is a readable JSON document.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass, field
from typing import Any


def now() -> float:
    return time.time()


@dataclass
class InboxMessage:
    """One message an account received (what ``GET /phone/{n}/inbox`` lists)."""

    id: str
    sender: str
    text: str | None
    received_at: float
    type: str = "text"
    caption: str | None = None
    mimetype: str | None = None
    size: int | None = None
    filename: str | None = None
    sha256: str | None = None
    delivered: bool = False
    read: bool = False

    def public(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "from": self.sender,
            "text": self.text,
            "received_at": self.received_at,
            "type": self.type,
            "read": self.read,
        }
        if self.type != "text":
            data.update(
                caption=self.caption,
                mimetype=self.mimetype,
                size=self.size,
                filename=self.filename,
                sha256=self.sha256,
            )
        return data


@dataclass
class Device:
    """A browser linked to an account (a "linked device" on the phone)."""

    device_id: str
    phone: str
    identity_key_b64: str  # public key the browser proves possession of on every resume
    browser_id: str
    linked_at: float = field(default_factory=now)
    # Queued wire frames (messages, acks) for when the browser is offline.
    pending: deque[dict[str, Any]] = field(default_factory=deque)


@dataclass
class Account:
    """A phone number known to the simulator."""

    phone: str
    created_at: float = field(default_factory=now)
    inbox: deque[InboxMessage] = field(default_factory=deque)
    online: bool = False  # the phone has used the API (delivered acks flow once it has)


def account_to_dict(account: Account) -> dict[str, Any]:
    return {
        "phone": account.phone,
        "created_at": account.created_at,
        "online": account.online,
        "inbox": [asdict(m) for m in account.inbox],
    }


def account_from_dict(data: dict[str, Any], max_inbox: int) -> Account:
    inbox = deque((InboxMessage(**m) for m in data.get("inbox", [])), maxlen=max_inbox)
    return Account(
        phone=data["phone"], created_at=data["created_at"], inbox=inbox, online=data.get("online", False)
    )


def device_to_dict(device: Device) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "phone": device.phone,
        "identity_key_b64": device.identity_key_b64,
        "browser_id": device.browser_id,
        "linked_at": device.linked_at,
        "pending": list(device.pending),
    }


def device_from_dict(data: dict[str, Any], max_pending: int) -> Device:
    return Device(
        device_id=data["device_id"],
        phone=data["phone"],
        identity_key_b64=data["identity_key_b64"],
        browser_id=data["browser_id"],
        linked_at=data["linked_at"],
        pending=deque(data.get("pending", []), maxlen=max_pending),
    )


class BoundedDict(OrderedDict[str, Any]):
    """An insertion-ordered dict that forgets its oldest entries beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        while len(self) > self.limit:
            self.popitem(last=False)
