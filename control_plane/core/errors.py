"""Application errors and the one place that renders the error envelope.

Every non-2xx answer under /v1/ has the body
``{"error": {"code", "message", "details"}}`` (../API.md, conventions).
Services raise :class:`AppError` subclasses; DRF and Django failures
(parse errors, 404/405/415, too-large bodies, crashes) are mapped here too.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions as drf
from rest_framework.response import Response

log = logging.getLogger(__name__)


class AppError(Exception):
    """Base of every error a service raises on purpose."""

    status = 400
    code = "bad_request"
    default_message = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)


class ValidationFailed(AppError):
    status, code, default_message = 400, "validation_error", "The input is not valid."


class NotAuthenticated(AppError):
    status, code, default_message = 401, "not_authenticated", "Authentication is required."


class PermissionDenied(AppError):
    status, code, default_message = 403, "permission_denied", "You may not do this."


class TierLimit(AppError):
    status, code, default_message = 403, "tier_limit", "Your plan's limit is reached."


class NotFound(AppError):
    status, code, default_message = 404, "not_found", "Not found."


class Conflict(AppError):
    status, code, default_message = 409, "conflict", "The object is not in a state that allows this."


class PayloadTooLarge(AppError):
    status, code, default_message = 413, "payload_too_large", "The request body is too large."


class RateLimited(AppError):
    status, code, default_message = 429, "rate_limited", "Too many requests."

    def __init__(self, message: str | None = None, *, retry_after: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.headers["Retry-After"] = str(max(1, int(retry_after)))
        self.details.setdefault("retry_after", max(1, int(retry_after)))


class WorkerUnavailable(AppError):
    status, code, default_message = 503, "worker_unavailable", "No worker can take this now."


class WorkerTimeout(AppError):
    status, code, default_message = 504, "worker_timeout", "The worker did not answer in time."


def envelope(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _validation_message(detail: Any) -> str:
    """A human sentence from DRF's nested error detail (first few problems)."""
    problems: list[str] = []

    def walk(value: Any, path: str) -> None:
        if len(problems) >= 3:
            return
        if isinstance(value, dict):
            for key, item in value.items():
                walk(
                    item,
                    f"{path}.{key}"
                    if path and key != "non_field_errors"
                    else (path or ("" if key == "non_field_errors" else str(key))),
                )
        elif isinstance(value, list):
            for item in value:
                walk(item, path)
        else:
            problems.append(f"{path}: {value}" if path else str(value))

    walk(detail, "")
    return "Invalid input: " + "; ".join(problems) if problems else "Invalid input."


def invalid_fields(fields: dict[str, Any]) -> ValidationFailed:
    """A 400 for per-field problems, shaped as DRF's: ``{"fields": {name: [why, ...]}}``."""
    return ValidationFailed(_validation_message(fields), details={"fields": fields})


def _from_drf(exc: drf.APIException) -> tuple[int, str, str, dict[str, Any]]:
    if isinstance(exc, drf.ValidationError):
        return 400, "validation_error", _validation_message(exc.detail), {"fields": exc.detail}
    if isinstance(exc, drf.ParseError):
        return 400, "invalid_json", f"The body could not be parsed: {exc.detail}", {}
    if isinstance(exc, drf.AuthenticationFailed | drf.NotAuthenticated):
        return 401, "not_authenticated", str(exc.detail), {}
    if isinstance(exc, drf.PermissionDenied):
        return 403, "permission_denied", str(exc.detail), {}
    if isinstance(exc, drf.NotFound):
        return 404, "not_found", "Not found.", {}
    if isinstance(exc, drf.MethodNotAllowed):
        return 405, "method_not_allowed", str(exc.detail), {}
    if isinstance(exc, drf.NotAcceptable):
        return 406, "not_acceptable", str(exc.detail), {}
    if isinstance(exc, drf.UnsupportedMediaType):
        return 415, "unsupported_media_type", f"{exc.detail} Send application/json.", {}
    if isinstance(exc, drf.Throttled):
        return 429, "rate_limited", str(exc.detail), {"retry_after": exc.wait}
    return exc.status_code, getattr(exc, "default_code", "error"), str(exc.detail), {}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception a view raises becomes the envelope."""
    headers: dict[str, str] = {}
    if isinstance(exc, AppError):
        status, code, message, details = exc.status, exc.code, exc.message, exc.details
        headers.update(exc.headers)
    elif isinstance(exc, Http404):
        status, code, message, details = 404, "not_found", "Not found.", {}
    elif isinstance(exc, DataError):
        # A value the database refuses (out of range, bad encoding): the client's input.
        status, code, message, details = 400, "validation_error", "A value is not acceptable.", {}
    elif isinstance(exc, RequestDataTooBig):
        status, code, message, details = 413, "payload_too_large", "The request body is too large.", {}
    elif isinstance(exc, DjangoPermissionDenied):
        status, code, message, details = 403, "permission_denied", "You may not do this.", {}
    elif isinstance(exc, drf.APIException):
        status, code, message, details = _from_drf(exc)
        if isinstance(exc, drf.Throttled) and exc.wait:
            headers["Retry-After"] = str(int(exc.wait) + 1)
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="wagate"'
    else:
        reference = uuid.uuid4().hex[:12]
        log.exception("unhandled error in %s (reference %s)", context.get("view"), reference)
        status, code = 500, "internal_error"
        message = f"Something went wrong on our side (reference {reference})."
        details = {"reference": reference}
    return Response(envelope(code, message, details), status=status, headers=headers)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/v1/")


def json_error(status: int, code: str, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse(envelope(code, message), status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        if isinstance(exception, RequestDataTooBig):
            return json_error(413, "payload_too_large", "The request body is too large.")
        return json_error(400, "bad_request", "The request could not be processed.")
    return defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return json_error(403, "permission_denied", "You may not do this.")
    return defaults.permission_denied(request, exception)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return json_error(404, "not_found", f"No API endpoint at {request.path}.")
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return json_error(500, "internal_error", "Something went wrong on our side.")
    return defaults.server_error(request)
