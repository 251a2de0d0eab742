"""ADB host-protocol framing for the fake server: requests, replies, shell output."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Mapping

from tests.fakes.adb_phone import FakePhone

# The text a real server sends for a device whose RSA key was not accepted.
UNAUTHORIZED = (
    "device unauthorized.\n"
    "This adb server's $ADB_VENDOR_KEYS is not set\n"
    "Try 'adb kill-server' if that seems wrong.\n"
    "Otherwise check for a confirmation dialog on your device."
)
_V1_MARKER = "; echo X4EXIT:$?"


async def read_request(reader: asyncio.StreamReader) -> str:
    """One framed request: 4 hex digits (either case) of length, then the payload."""
    size = int((await reader.readexactly(4)).decode("ascii"), 16)
    return (await reader.readexactly(size)).decode("utf-8", errors="replace")


def _block(text: str) -> bytes:
    data = text.encode()
    return b"%04x" % len(data) + data


def okay(writer: asyncio.StreamWriter, text: str | None = None) -> None:
    """``OKAY``, plus a hex4-framed string when ``text`` is given."""
    writer.write(b"OKAY" + (_block(text) if text is not None else b""))


def fail(writer: asyncio.StreamWriter, message: str) -> None:
    writer.write(b"FAIL" + _block(message))


async def wait_until_client_leaves(reader: asyncio.StreamReader) -> None:
    """Say nothing and keep the socket open until the client closes it (a hang)."""
    with contextlib.suppress(ConnectionError, OSError):
        while await reader.read(4096):
            pass


async def close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()


def split_serial(rest: str, phones: Mapping[str, FakePhone]) -> tuple[str, str]:
    """Split ``<serial>:<command>``; serials may hold ``:`` so known ones match by longest prefix."""
    for serial in sorted(phones, key=len, reverse=True):
        if rest.startswith(serial + ":"):
            return serial, rest[len(serial) + 1 :]
    serial, _, command = rest.partition(":")
    return serial, command


def _packet(kind: int, data: bytes) -> bytes:
    return struct.pack("<BI", kind, len(data)) + data


def shell_payload(
    phone: FakePhone, command: str, *, v2: bool, raw: bool = False, truncate: bool = False
) -> bytes:
    """Run ``command`` on ``phone`` and frame its output as the shell service would.

    v2: stdout (id 1), stderr (id 2) and exit (id 3) packets. v1 (``shell:``):
    stdout+stderr bytes, plus ``X4EXIT:<code>`` when adbutils' marker was
    appended. ``truncate`` keeps half the output and no exit: the phone
    vanished mid-command.
    """
    marker = not v2 and not raw and command.endswith(_V1_MARKER)
    result = phone.shell(command.removesuffix(_V1_MARKER) if marker else command)
    out, err = result.stdout.encode(), result.stderr.encode()
    if v2:
        if truncate:
            return _packet(1, out[: len(out) // 2]) if out else b""
        packets = [_packet(1, out) if out else b"", _packet(2, err) if err else b""]
        return b"".join(packets) + _packet(3, bytes([result.code & 0xFF]))
    data = out + err
    if marker:
        data += f"X4EXIT:{result.code}\n".encode()
    return data[: len(data) // 2] if truncate else data
