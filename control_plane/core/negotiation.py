"""Content negotiation with a shortcut for clients that take anything.

API clients send no ``Accept`` header or ``*/*``; DRF still parsed the header
and every renderer's media type on each request (~5 % of a send). Such a
request gets the view's first renderer, exactly what DRF would choose; any
other ``Accept`` or a ``?format=`` goes through DRF's full negotiation.
"""

from __future__ import annotations

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer

ANYTHING = ("", "*/*")


class AnythingFirstNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Any, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        accept = request.META.get("HTTP_ACCEPT", "").strip()
        if accept in ANYTHING and not format_suffix and "format=" not in request.META.get("QUERY_STRING", ""):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
