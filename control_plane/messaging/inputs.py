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

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.datastructures import MultiValueDict

from control_plane.core.errors import invalid_fields
from control_plane.messaging.models import Message

MAX_TEXT = 65536
KINDS = frozenset(Message.Kind.values)
MEDIA_LIMITS = {"url": 2000, "data": None, "mimetype": 100, "filename": 255}
_url = URLValidator()  # what DRF's URLField runs


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
    """A string as DRF's CharField takes it: numbers become text, anything else (null
    included) is refused, and so are NUL and lone surrogate characters."""
    where = under or None
    if value is None:
        problems.add(name, "This field may not be null.", under=where)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        problems.add(name, "Not a valid string.", under=where)
        return None
    text = str(value)
    if trim:
        text = text.strip()
    if not text and not blank:
        problems.add(name, "This field may not be blank.", under=where)
        return None
    if limit is not None and len(text) > limit:
        problems.add(name, f"Ensure this field has no more than {limit} characters.", under=where)
        return None
    if "\x00" in text:
        problems.add(name, "Null characters are not allowed.", under=where)
        return None
    surrogate = next((c for c in text if 0xD800 <= ord(c) <= 0xDFFF), None)
    if surrogate is not None:
        problems.add(name, f"Surrogate characters are not allowed: U+{ord(surrogate):X}.", under=where)
        return None
    return text


def _not_a_dict(value: Any) -> str:
    return f"Invalid data. Expected a dictionary, but got {type(value).__name__}."


def _media(value: Any, problems: _Problems) -> dict[str, str]:
    if value is None:
        problems.add("media", "This field may not be null.")
        return {}
    if not isinstance(value, Mapping):
        problems.add("non_field_errors", _not_a_dict(value), under="media")
        return {}
    media = {}
    for name, limit in MEDIA_LIMITS.items():
        if name in value:
            text = _text(
                value[name], name, problems, limit=limit, trim=name != "data", blank=False, under="media"
            )
            if text is not None:
                media[name] = text
    if "url" in media:
        try:
            _url(media["url"])
        except ValidationError:
            problems.add("url", "Enter a valid URL.", under="media")
    return media


def _from_form(data: Mapping[str, Any]) -> dict[str, Any]:
    """A multipart or urlencoded body, read as DRF reads a form: single values,
    ``media.url``-style keys nested, and an empty optional field left out."""
    flat = {key: data.get(key) for key in data}
    media = {key[6:]: value for key, value in flat.items() if key.startswith("media.") and value != ""}
    if media:
        flat["media"] = media
    if flat.get("type") == "":
        del flat["type"]
    return flat


def parse_send(data: Any, files: Mapping[str, Any] | None = None) -> SendRequest:
    """Check a send's body (a JSON object, or form fields plus ``files``)."""
    if not isinstance(data, Mapping):
        raise invalid_fields({"non_field_errors": [_not_a_dict(data)]})
    if isinstance(data, MultiValueDict):  # a form (multipart) body, not JSON
        data = _from_form(data)
    problems = _Problems()
    to = None
    if "to" not in data:
        problems.add("to", "This field is required.")
    else:
        to = _text(data["to"], "to", problems, limit=32, trim=True, blank=False)
    kind = data.get("type", "text")
    if kind is None:
        problems.add("type", "This field may not be null.")
    elif not isinstance(kind, str) or kind not in KINDS:
        problems.add("type", f'"{kind}" is not a valid choice.')
    text = caption = None
    if "text" in data:
        text = _text(data["text"], "text", problems, limit=MAX_TEXT, trim=False, blank=True)
    if "caption" in data:
        caption = _text(data["caption"], "caption", problems, limit=4096, trim=True, blank=True)
    media = _media(data["media"], problems) if "media" in data else {}
    upload = (files or {}).get("file")
    problems.raise_any()
    return SendRequest(to=to or "", kind=kind, text=text, caption=caption, media=media, upload=upload)
