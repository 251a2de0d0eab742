"""Value types used inside commands and events."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from shared.envelope import WireModel


class SessionStatus(StrEnum):
    """A session's lifecycle state (ARCHITECTURE: lifecycles)."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    QR_READY = "qr_ready"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    ERROR = "error"
    INACTIVE = "inactive"


class MessageKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    DOCUMENT = "document"
    AUDIO = "audio"
    VIDEO = "video"


class AckLevel(StrEnum):
    """How far an outgoing message got, as WhatsApp reports it."""

    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"


SessionId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9-]*$")]
Phone = Annotated[str, Field(pattern=r"^[0-9]{6,15}$")]


class ProxySpec(WireModel):
    """Where a session's Chromium sends its traffic. Credentials travel only here."""

    server: str = Field(pattern=r"^(http|https|socks5)://[^/\s]+:[0-9]{1,5}$")
    username: str | None = None
    password: str | None = None
    proxy_id: str | None = None


class MediaSpec(WireModel):
    """Media of an outgoing message: inline base64, or a URL the worker may fetch."""

    mimetype: str
    filename: str | None = None
    size: int | None = None
    data_b64: str | None = None
    url: str | None = None
