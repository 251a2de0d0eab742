"""The envelope every command and event travels in, and its (de)serialisation.

A wire message is a pydantic model registered under a dotted ``type`` name
with :func:`wire_type`. On the wire it is wrapped as::

    {"id", "type", "schema_version", "sent_at", "source", "reply_to", "payload"}

``decode`` never raises anything but :class:`WireError`, so a reader can
dead-letter a bad message and carry on.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

# Bump when a field is removed or renamed; adding an optional field is free.
SCHEMA_VERSION = 1


class WireModel(BaseModel):
    """Base of every command and event payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    TYPE: ClassVar[str] = ""


_REGISTRY: dict[str, type[WireModel]] = {}
M = TypeVar("M", bound=type[WireModel])


def wire_type(name: str):  # type: ignore[no-untyped-def]
    """Register a payload model under its wire ``type`` name."""

    def register(cls: M) -> M:
        if name in _REGISTRY:
            raise RuntimeError(f"wire type {name!r} registered twice")
        cls.TYPE = name
        _REGISTRY[name] = cls
        return cls

    return register


def registered_types() -> dict[str, type[WireModel]]:
    return dict(_REGISTRY)


class WireError(Exception):
    """A message that cannot be accepted; ``code`` says why, ``envelope_id`` if known."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        envelope_id: str | None = None,
        type_name: str | None = None,
        reply_to: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.envelope_id = envelope_id
        self.type_name = type_name
        self.reply_to = reply_to


class Envelope(BaseModel):
    """One wire message: identity, type, version, origin and the typed payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    type: str
    schema_version: int = SCHEMA_VERSION
    sent_at: datetime
    source: str | None = None
    reply_to: str | None = None
    payload: dict[str, Any]

    @classmethod
    def wrap(
        cls,
        message: WireModel,
        *,
        source: str | None = None,
        reply_to: str | None = None,
        envelope_id: str | None = None,
    ) -> Envelope:
        if not message.TYPE:
            raise TypeError(f"{type(message).__name__} is not a registered wire type")
        return cls(
            id=envelope_id or uuid.uuid4().hex,
            type=message.TYPE,
            sent_at=datetime.now(UTC),
            source=source,
            reply_to=reply_to,
            payload=message.model_dump(mode="json"),
        )

    def to_json(self) -> str:
        return self.model_dump_json()


def encode(
    message: WireModel,
    *,
    source: str | None = None,
    reply_to: str | None = None,
    envelope_id: str | None = None,
) -> Envelope:
    """Wrap a payload in a fresh envelope (``.to_json()`` gives the wire form)."""
    return Envelope.wrap(message, source=source, reply_to=reply_to, envelope_id=envelope_id)


def decode(raw: str | bytes) -> tuple[Envelope, WireModel]:
    """Parse and validate one wire message; raise :class:`WireError` on anything wrong."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError("malformed", f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise WireError("malformed", "an envelope is a JSON object")
    envelope_id = data.get("id") if isinstance(data.get("id"), str) else None
    type_name = data.get("type") if isinstance(data.get("type"), str) else None
    reply_to = data.get("reply_to") if isinstance(data.get("reply_to"), str) else None
    context = {"envelope_id": envelope_id, "type_name": type_name, "reply_to": reply_to}
    try:
        envelope = Envelope.model_validate(data)
    except ValidationError as exc:
        raise WireError("malformed", f"bad envelope: {_summary(exc)}", **context) from exc
    if envelope.schema_version > SCHEMA_VERSION:
        raise WireError(
            "unsupported_version",
            f"schema_version {envelope.schema_version} is newer than {SCHEMA_VERSION}",
            **context,
        )
    model = _REGISTRY.get(envelope.type)
    if model is None:
        raise WireError("unknown_type", f"unknown message type {envelope.type!r}", **context)
    try:
        payload = model.model_validate(envelope.payload)
    except ValidationError as exc:
        raise WireError(
            "invalid_payload", f"bad {envelope.type} payload: {_summary(exc)}", **context
        ) from exc
    return envelope, payload


def _summary(exc: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()[:5]]
    return "; ".join(parts)
