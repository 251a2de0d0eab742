"""Media of outgoing messages: the engine takes it inline, so URLs are fetched here."""

from __future__ import annotations

import base64
import binascii

import httpx

from shared.types import MediaSpec
from worker.errors import PermanentError

FETCH_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class MediaError(PermanentError):
    """The media cannot be used; ``code`` is ``media_invalid`` or ``media_fetch_failed``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


async def inline(http: httpx.AsyncClient, media: MediaSpec, max_bytes: int) -> MediaSpec:
    """The same media with ``data_b64`` filled in (fetched from ``url`` if needed), size-checked."""
    if media.data_b64:
        try:
            size = len(base64.b64decode(media.data_b64, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise MediaError("media_invalid", f"data_b64 is not base64: {exc}") from exc
        if size > max_bytes:
            raise MediaError("media_invalid", f"media is {size} bytes; the limit is {max_bytes}")
        return media.model_copy(update={"size": size})
    if not media.url:
        raise MediaError("media_invalid", "media needs data_b64 or a url")
    data = await _fetch(http, media.url, max_bytes)
    encoded = base64.b64encode(data).decode("ascii")
    return media.model_copy(update={"data_b64": encoded, "size": len(data), "url": None})


async def _fetch(http: httpx.AsyncClient, url: str, max_bytes: int) -> bytes:
    if not url.startswith(("http://", "https://")):
        raise MediaError("media_invalid", "a media url must be http:// or https://")
    chunks, size = [], 0
    try:
        async with http.stream("GET", url, timeout=FETCH_TIMEOUT, follow_redirects=True) as response:
            if not response.is_success:
                raise MediaError("media_fetch_failed", f"GET {url} answered {response.status_code}")
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise MediaError("media_invalid", f"media at {url} is over {max_bytes} bytes")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise MediaError("media_fetch_failed", f"GET {url} failed: {type(exc).__name__}: {exc}") from exc
    if not chunks:
        raise MediaError("media_invalid", f"media at {url} is empty")
    return b"".join(chunks)
