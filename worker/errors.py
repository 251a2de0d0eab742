"""The worker's errors: retryable (try again later) or permanent (report and move on).

Exceptions of the libraries at the edges (httpx, redis, Playwright through
the engine) are mapped to these with ``raise ... from`` where they enter the
worker, so the rest of the code only reasons about ``retryable``.
"""

from __future__ import annotations

from typing import Any

import httpx


class WorkerError(Exception):
    """Base of every worker failure; ``retryable`` says whether trying again may help."""

    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RetryableError(WorkerError):
    """A dependency is down or slow; the same call may work later."""

    retryable = True


class PermanentError(WorkerError):
    """Trying again will fail the same way."""


class SettingsError(PermanentError):
    """A setting is missing or invalid; the message is the one line to print."""


class ControlPlaneUnavailable(RetryableError):
    """The control plane did not answer, or answered 5xx/429."""


class RedisUnavailable(RetryableError):
    """Redis did not answer; commands and events wait for it."""


class ControlPlaneRejected(PermanentError):
    """The control plane refused the request (4xx); ``code`` is its error code."""

    def __init__(
        self, message: str, *, status: int, code: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.details = details or {}


class TokenRefused(ControlPlaneRejected):
    """401: the worker token was replaced or revoked; register again."""


class NotFound(ControlPlaneRejected):
    """404: e.g. no snapshot stored, or the session is not routed to this worker."""


class Conflict(ControlPlaneRejected):
    """409: e.g. a stale generation (the session moved to another worker)."""


class CommandRefused(PermanentError):
    """A command cannot be carried out; becomes a ``command.failed`` event with ``code``."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def from_httpx(exc: httpx.HTTPError, what: str) -> WorkerError:
    """Map a transport-level httpx error (no response) to a worker error."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TransportError):
        return ControlPlaneUnavailable(f"{what}: {type(exc).__name__}: {detail}")
    return PermanentError(f"{what}: {detail}")


def from_response(response: httpx.Response, what: str) -> WorkerError:
    """Map a non-2xx response (with the API's error envelope, if any) to a worker error."""
    status = response.status_code
    code, message = f"http_{status}", response.reason_phrase
    details: dict[str, Any] = {}
    try:
        error = response.json().get("error") or {}
        code = str(error.get("code") or code)
        message = str(error.get("message") or message)
        details = error.get("details") or {}
    except (ValueError, AttributeError):
        pass  # not the API's envelope (a proxy's page); keep the status line
    text = f"{what}: {status} {code}: {message}"
    if status >= 500 or status == 429:
        return ControlPlaneUnavailable(text)
    kind = {401: TokenRefused, 404: NotFound, 409: Conflict}.get(status, ControlPlaneRejected)
    return kind(text, status=status, code=code, details=details)
