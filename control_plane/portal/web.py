"""What every portal view shares: login and staff guards that understand htmx,
turning service errors into form errors or flash messages, and partial rendering.

Views stay interfaces (STYLE habit 1): parse, authorize, call one service,
render. Nothing here decides anything about the domain.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django_htmx.http import HttpResponseClientRedirect

from control_plane.core.errors import AppError, NotFound

View = Callable[..., HttpResponse]


def login_required(view: View) -> View:
    """Django's redirect to the login page, except that an htmx request (a session that
    expired while the page was open) gets a full-page redirect instead of a login form
    swapped into a fragment."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        target = f"{settings.LOGIN_URL}?{urlencode({'next': request.get_full_path()})}"
        if request.htmx:
            return HttpResponseClientRedirect(f"{settings.LOGIN_URL}?{urlencode({'next': request.path})}")
        return HttpResponseRedirect(target)

    return guarded


def staff_required(view: View) -> View:
    """Operators only; a customer gets the 403 page (the fleet is not theirs to see)."""

    @wraps(view)
    @login_required
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("Only operators may see the fleet.")
        return view(request, *args, **kwargs)

    return guarded


def not_found_as_404(view: View) -> View:
    """A service's NotFound (another customer's object included) becomes the 404 page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc

    return wrapped


def form_error(form: forms.Form, exc: AppError) -> None:
    """Put a service's error next to the fields it names (``details.fields``), else on
    top of the form, so the customer sees it where they typed."""
    placed = False
    fields = exc.details.get("fields")
    for name, problems in (fields if isinstance(fields, dict) else {}).items():
        if name in form.fields:
            for problem in problems if isinstance(problems, list) else [problems]:
                form.add_error(name, str(problem))
            placed = True
    if not placed:
        form.add_error(None, exc.message)


def flash_error(request: HttpRequest, exc: AppError) -> None:
    messages.error(request, exc.message)


def partial(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    """A fragment for htmx, with the flash messages swapped in out of band so an
    action's outcome shows in the page's message area."""
    body = render_to_string(template, context, request=request)
    flash = list(messages.get_messages(request))
    if flash:  # only then: a live refresh must not wipe a message still on screen
        body += render_to_string("portal/_messages.html", {"oob": True, "flash": flash}, request=request)
    return HttpResponse(body, status=status)


def page_or_partial(
    request: HttpRequest, page: str, fragment: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    if request.htmx:
        return partial(request, fragment, context, status=status)
    return render(request, page, context, status=status)


def back_to(request: HttpRequest, url: str) -> HttpResponse:
    """After a successful POST: the page again (htmx follows it as a full redirect)."""
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)
