"""Media of outgoing messages: taken from a URL (fetched through the SSRF guard),
base64 data or an upload; checked for type and size; kept on disk until sent."""

from __future__ import annotations

import base64
import binascii
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings

from control_plane.core.errors import PayloadTooLarge, ValidationFailed
from control_plane.core.outbound import check_url, request

ALLOWED = {
    "image": {"image/jpeg", "image/png", "image/webp", "image/gif"},
    "audio": {"audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac", "audio/amr", "audio/wav", "audio/webm"},
    "video": {"video/mp4", "video/3gpp", "video/webm"},
    # Documents may be any type WhatsApp accepts; only executables are refused.
    "document": None,
}
REFUSED_DOCUMENTS = {"application/x-msdownload", "application/x-executable", "application/x-sh"}


@dataclass(frozen=True)
class Media:
    content: bytes
    mimetype: str
    filename: str


def _fail(message: str) -> ValidationFailed:
    return ValidationFailed(message, details={"fields": {"media": [message]}})


def _check(kind: str, media: Media) -> Media:
    if not media.content:
        raise _fail("The media is empty.")
    if len(media.content) > settings.MEDIA_MAX_BYTES:
        raise PayloadTooLarge(f"Media may be at most {settings.MEDIA_MAX_BYTES} bytes.")
    allowed = ALLOWED[kind]
    if (allowed is not None and media.mimetype not in allowed) or media.mimetype in REFUSED_DOCUMENTS:
        accepted = ", ".join(sorted(allowed)) if allowed else "any document type"
        raise _fail(f"{media.mimetype!r} is not accepted for {kind}; use {accepted}.")
    return media


def _guess_name(kind: str, mimetype: str) -> str:
    return f"{kind}{mimetypes.guess_extension(mimetype) or ''}"


def from_url(kind: str, url: str) -> Media:
    target = check_url(url, field="media")
    try:
        with httpx.Client(timeout=settings.MEDIA_FETCH_TIMEOUT) as client:
            response = request(client, "GET", target)
    except httpx.HTTPError as exc:
        raise _fail(f"The media URL could not be fetched: {type(exc).__name__}.") from exc
    if response.status_code != 200:
        raise _fail(f"The media URL answered {response.status_code}.")
    mimetype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    mimetype = mimetype or (mimetypes.guess_type(url)[0] or "application/octet-stream")
    name = Path(httpx.URL(url).path).name or _guess_name(kind, mimetype)
    return _check(kind, Media(response.content, mimetype, name))


def from_base64(kind: str, data: str, mimetype: str, filename: str | None) -> Media:
    if len(data) > settings.MEDIA_MAX_BYTES * 4 // 3 + 4:
        raise PayloadTooLarge(f"Media may be at most {settings.MEDIA_MAX_BYTES} bytes.")
    try:
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _fail("media.data is not valid base64.") from exc
    return _check(kind, Media(content, mimetype.lower(), filename or _guess_name(kind, mimetype)))


def from_upload(kind: str, upload: Any) -> Media:
    if upload.size > settings.MEDIA_MAX_BYTES:
        raise PayloadTooLarge(f"Media may be at most {settings.MEDIA_MAX_BYTES} bytes.")
    mimetype = (
        upload.content_type or mimetypes.guess_type(upload.name)[0] or "application/octet-stream"
    ).lower()
    return _check(kind, Media(upload.read(), mimetype, upload.name))


def media_dir() -> Path:
    path = Path(settings.MEDIA_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def store(message_id: str, media: Media) -> str:
    blob = f"{message_id}.media"
    (media_dir() / blob).write_bytes(media.content)
    return blob


def load_b64(blob: str) -> str | None:
    path = media_dir() / blob
    return base64.b64encode(path.read_bytes()).decode() if path.exists() else None


def discard(blob: str) -> None:
    if blob:
        (media_dir() / blob).unlink(missing_ok=True)
