"""Discovery: merge the ADB server's device listing into the controller's phone records.

States come from ``adb devices -l``: ``device`` (usable), ``offline``,
``unauthorized`` and the other adb states; a phone that is no longer listed
becomes ``absent`` and is forgotten after ``forget_absent_after`` seconds.
A phone that leaves ``device`` loses its forwards (adb erases them with the
transport), so it is marked unforwarded and the next check re-creates them.
"""

from __future__ import annotations

import time

from worker.adb.client import ListedDevice
from worker.adb.models import PhoneRecord, PhoneStatus

ONLINE = "device"
ABSENT = "absent"

# What an operator should do, per non-usable state.
STATE_HINTS = {
    "unauthorized": "accept the USB debugging (RSA key) prompt on the phone",
    "authorizing": "the phone is still being authorized",
    "offline": "the adb transport is offline: replug the USB cable or restart adbd",
    "connecting": "the adb transport is still connecting",
    ABSENT: "the ADB server no longer lists this phone (unplugged?)",
}


def merge_listing(
    records: dict[str, PhoneRecord], listed: list[ListedDevice], *, forget_absent_after: float
) -> set[str]:
    """Update ``records`` in place; return the serials whose ADB state changed."""
    changed: set[str] = set()
    now = time.monotonic()
    seen = set()
    for device in listed:
        seen.add(device.serial)
        record = records.setdefault(device.serial, PhoneRecord(serial=device.serial, state=device.state))
        if record.state != device.state:
            changed.add(device.serial)
            record.forwarded = False
        record.state = device.state
        record.absent_since = None
        if device.state != ONLINE:
            record.mark(PhoneStatus.UNHEALTHY, device.state, STATE_HINTS.get(device.state))
    for serial, record in list(records.items()):
        if serial in seen:
            continue
        if record.state != ABSENT:
            changed.add(serial)
            record.state, record.absent_since, record.forwarded = ABSENT, now, False
            record.mark(PhoneStatus.UNHEALTHY, ABSENT, STATE_HINTS[ABSENT])
        elif record.absent_since is not None and now - record.absent_since > forget_absent_after:
            del records[serial]
    return changed
