"""Middleware of our own: API body limits, and page-only messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.http import HttpRequest, HttpResponse

from control_plane.core.errors import json_error


class ApiBodyLimitMiddleware:
    """413 in the envelope when Content-Length exceeds the view's limit.

    A view may name another setting as its limit with ``max_body_setting`` (media
    uploads, snapshots); bodies without Content-Length are still bounded by
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` and streamed uploads by their view.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        if not request.path.startswith("/v1/"):
            return None
        # PostgreSQL cannot store NUL: refuse it before it reaches a query.
        if "\x00" in request.path:
            return json_error(404, "not_found", "Not found.")
        if "\x00" in request.META.get("QUERY_STRING", "") or any("\x00" in v for v in request.GET.values()):
            return json_error(400, "validation_error", "The query string may not contain NUL characters.")
        view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
        limit = getattr(settings, getattr(view_class, "max_body_setting", "API_MAX_BODY_BYTES"))
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return json_error(400, "bad_request", "The Content-Length header is not a number.")
        if length > limit:
            return json_error(
                413,
                "payload_too_large",
                f"The request body is {length} bytes; this endpoint takes at most {limit}.",
            )
        return None


class PageMessageMiddleware(MessageMiddleware):
    """django.contrib.messages for the portal and the admin. The JSON API never shows
    one, and building the message storage on each request cost ~3 % of a send."""

    def process_request(self, request: HttpRequest) -> None:
        if not request.path.startswith("/v1/"):
            super().process_request(request)
