"""The simulator's durable state: accounts, linked devices, message routing.

Pure data, no asyncio: the hub mutates it, and ``dump``/``load`` give the
optional state file. Every collection is bounded (see ``SimulatorConfig``)
so a long benchmark cannot grow the simulator without limit.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections import deque
from pathlib import Path
from typing import Any

from simulator.config import SimulatorConfig
from simulator.model import (
    Account,
    BoundedDict,
    Device,
    InboxMessage,
    account_from_dict,
    account_to_dict,
    device_from_dict,
    device_to_dict,
)

STATE_VERSION = 1


class Store:
    """Accounts by phone, devices by id, and which account sent which message."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.accounts: BoundedDict = BoundedDict(config.max_accounts)
        self.devices: BoundedDict = BoundedDict(config.max_accounts * 4)
        # message id -> {"sender": phone, "recipient": phone}: routes acks back to the sender.
        self.routes: BoundedDict = BoundedDict(config.max_message_index)
        self.dirty = False

    # -- accounts -------------------------------------------------------
    def account(self, phone: str) -> Account:
        """The account for ``phone``, created on first use."""
        account = self.accounts.get(phone)
        if account is None:
            account = Account(phone=phone, inbox=deque(maxlen=self.config.max_inbox))
            self.accounts[phone] = account
            self.dirty = True
        return account

    def exists(self, phone: str) -> bool:
        return phone in self.accounts

    # -- devices --------------------------------------------------------
    def link(self, phone: str, identity_key_b64: str, browser_id: str) -> Device:
        """Record a new linked device for ``phone``."""
        self.account(phone)
        device = Device(
            device_id=secrets.token_hex(8),
            phone=phone,
            identity_key_b64=identity_key_b64,
            browser_id=browser_id,
            pending=deque(maxlen=self.config.max_pending),
        )
        self.devices[device.device_id] = device
        self.dirty = True
        return device

    def devices_of(self, phone: str) -> list[Device]:
        return [d for d in self.devices.values() if d.phone == phone]

    def remove_device(self, device_id: str) -> Device | None:
        self.dirty = True
        return self.devices.pop(device_id, None)

    # -- messages -------------------------------------------------------
    def deliver_to_inbox(self, recipient: str, message: InboxMessage) -> None:
        self.account(recipient).inbox.append(message)
        self.routes[message.id] = {"sender": message.sender, "recipient": recipient}
        self.dirty = True

    def find_inbox_message(self, recipient: str, message_id: str) -> InboxMessage | None:
        account = self.accounts.get(recipient)
        if account is None:
            return None
        return next((m for m in account.inbox if m.id == message_id), None)

    def queue(self, device: Device, frame: dict[str, Any]) -> dict[str, Any]:
        """Queue a frame for a device until the browser confirms it (``qid``)."""
        frame = {**frame, "qid": secrets.token_hex(6)}
        device.pending.append(frame)
        self.dirty = True
        return frame

    def confirm(self, device: Device, qids: list[str]) -> None:
        done = set(qids)
        kept = [f for f in device.pending if f.get("qid") not in done]
        device.pending.clear()
        device.pending.extend(kept)
        self.dirty = True

    # -- persistence ----------------------------------------------------
    def dump(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "accounts": [account_to_dict(a) for a in self.accounts.values()],
            "devices": [device_to_dict(d) for d in self.devices.values()],
            "routes": dict(self.routes),
        }

    def load(self, data: dict[str, Any]) -> None:
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported simulator state version {data.get('version')!r}")
        for item in data.get("accounts", []):
            account = account_from_dict(item, self.config.max_inbox)
            self.accounts[account.phone] = account
        for item in data.get("devices", []):
            device = device_from_dict(item, self.config.max_pending)
            self.devices[device.device_id] = device
        for key, value in data.get("routes", {}).items():
            self.routes[key] = value
        self.dirty = False

    def save(self, path: Path) -> None:
        """Write the state atomically (temp file + rename): a crash never leaves half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.dump(), fh)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.dirty = False

    def load_file(self, path: Path) -> None:
        if path.exists():
            self.load(json.loads(path.read_text(encoding="utf-8")))
