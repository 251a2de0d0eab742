"""The body of a send, checked by hand.

The hottest request of the API. DRF's serializer rebuilt its ten fields (a deep
copy and ``__init__`` each) on every call, ~0.25 ms of the ~1.5 ms a send costs;
this does the same checks in ~10 µs. ``SendInput`` in apis.py describes the same
body for the OpenAPI schema, and a test feeds both the same inputs so that they
accept and refuse alike. Errors keep DRF's shape: ``{"fields": {name: [why]}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.datastructures import MultiValueDict

from control_plane.core.errors import invalid_fields
from control_plane.messaging.models import Message

MAX_TEXT = 65536
KINDS = frozenset(Message.Kind.values)
MEDIA_LIMITS = {"url": 2000, "data": None, "mimetype": 100, "filename": 255}


@dataclass(frozen=True)
class SendRequest:
    to: str
    kind: str
    text: str | None
    caption: str | None
    media: dict[str, str]  # any of url, data, mimetype, filename
    upload: Any  # an uploaded file (multipart), or None

    @property
    def has_media(self) -> bool:
        return bool(self.media) or self.upload is not None


class _Problems:
    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}

    def add(self, name: str, why: str, *, under: str | None = None) -> None:
        if under:
            self.fields.setdefault(under, {}).setdefault(name, []).append(why)
        else:
            self.fields.setdefault(name, []).append(why)

    def raise_any(self) -> None:
        if self.fields:
            raise invalid_fields(self.fields)


def _text(
    value: Any, name: str, problems: _Problems, *, limit: int | None, trim: bool, blank: bool, under: str = ""
) -> str | None:
    """A string as DRF's CharField takes it: numbers become text, anything else is refused."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        problems.add(name, "Not a valid string.", under=under or None)
        return None
    text = str(value)
    if trim:
        text = text.strip()
    if not text and not blank:
        problems.add(name, "This field may not be blank.", under=under or None)
        return None
    if limit is not None and len(text) > limit:
        problems.add(name, f"Ensure this field has no more than {limit} characters.", under=under or None)
        return None
    return text


def _media(value: Any, problems: _Problems) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.add("non_field_errors", "Invalid data. Expected a dictionary.", under="media")
        return {}
    media = {}
    for name, limit in MEDIA_LIMITS.items():
        if value.get(name) is not None:
            text = _text(
                value[name], name, problems, limit=limit, trim=name != "data", blank=False, under="media"
            )
            if text is not None:
                media[name] = text
    return media


def _from_form(data: Mapping[str, Any]) -> dict[str, Any]:
    """A multipart or urlencoded body: single values, ``media.url``-style keys nested."""
    flat = {key: data.get(key) for key in data}
    media = {key[6:]: value for key, value in flat.items() if key.startswith("media.")}
    if media:
        flat["media"] = media
    return flat


def parse_send(data: Any, files: Mapping[str, Any] | None = None) -> SendRequest:
    """Check a send's body (a JSON object, or form fields plus ``files``)."""
    if not isinstance(data, Mapping):
        raise invalid_fields({"non_field_errors": ["Invalid data. Expected a dictionary."]})
    if isinstance(data, MultiValueDict):  # a form (multipart) body, not JSON
        data = _from_form(data)
    problems = _Problems()
    to = None
    if data.get("to") is None:
        problems.add("to", "This field is required.")
    else:
        to = _text(data["to"], "to", problems, limit=32, trim=True, blank=False)
    kind = data.get("type", "text")
    if not isinstance(kind, str) or kind not in KINDS:
        problems.add("type", f'"{kind}" is not a valid choice.')
    text = data.get("text")
    if text is not None:
        text = _text(text, "text", problems, limit=MAX_TEXT, trim=False, blank=True)
    caption = data.get("caption")
    if caption is not None:
        caption = _text(caption, "caption", problems, limit=4096, trim=True, blank=True)
    media = _media(data.get("media"), problems)
    upload = (files or {}).get("file")
    problems.raise_any()
    return SendRequest(to=to or "", kind=kind, text=text, caption=caption, media=media, upload=upload)
