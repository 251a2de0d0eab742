"""The dashboard (one card per instance), creating an instance, the instance page
and the fragments its websocket refreshes (panel, card, history)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from control_plane.accounts import selectors as account_selectors
from control_plane.core.errors import AppError, Conflict, NotFound
from control_plane.portal.forms import InstanceForm, PairingCodeForm, SendTestForm
from control_plane.portal.live import websocket_url
from control_plane.portal.views.messages import conversation
from control_plane.portal.web import (
    back_to,
    form_error,
    login_required,
    not_found_as_404,
    page_or_partial,
    partial,
)
from control_plane.sessions import linking, selectors, services
from control_plane.sessions.models import Session

HISTORY_SIZE = 15


def _plan(user: Any) -> dict[str, Any]:
    """The tier's session limit next to what is used, for the create form and the header."""
    limit = account_selectors.user_limits(user=user)["sessions"]
    used = account_selectors.user_usage(user=user).get("sessions", 0)
    return {"plan": {"tier": user.tier, "limit": limit, "used": used, "full": used >= limit}}


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    context = {
        "nav": "instances",
        "sessions": selectors.session_list(user=request.user),
        "form": InstanceForm(),
        "ws_url": websocket_url(request),
        **_plan(request.user),
    }
    return render(request, "portal/instances/dashboard.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def instance_create(request: HttpRequest) -> HttpResponse:
    form = InstanceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            name = services.validate_name(form.cleaned_data["name"])
            session = services.session_create(
                user=request.user, name=name, description=form.cleaned_data["description"]
            )
        except AppError as exc:
            form_error(form, exc)
        else:
            messages.success(request, f"Instance “{session.name}” created. Connect it to show its QR code.")
            return back_to(request, reverse("portal:instance", args=[session.id]))
    status = 422 if form.is_bound else 200
    context = {"nav": "instances", "form": form, **_plan(request.user)}
    return page_or_partial(
        request, "portal/instances/create.html", "portal/instances/_create_form.html", context, status
    )


def _detail_context(request: HttpRequest, session: Session) -> dict[str, Any]:
    return {
        "nav": "instances",
        "session": session,
        "history": selectors.session_history(user=request.user, session_id=session.id)[:HISTORY_SIZE],
        "pairing_form": PairingCodeForm(),
        "qr_max": settings.QR_MAX_CODES,
        "ws_url": websocket_url(request, session_id=session.id),
        "send_form": SendTestForm(),
        **conversation(user=request.user, session_id=session.id),
    }


@login_required
@require_GET
@not_found_as_404
def instance_detail(request: HttpRequest, session_id: str) -> HttpResponse:
    session = selectors.session_get(user=request.user, session_id=session_id)
    return render(request, "portal/instances/detail.html", _detail_context(request, session))


@login_required
@require_GET
@not_found_as_404
def instance_panel(request: HttpRequest, session_id: str) -> HttpResponse:
    session = selectors.session_get(user=request.user, session_id=session_id)
    context = {"session": session, "qr_max": settings.QR_MAX_CODES, "pairing_form": PairingCodeForm()}
    return partial(request, "portal/instances/_panel.html", context)


@login_required
@require_GET
@not_found_as_404
def instance_card(request: HttpRequest, session_id: str) -> HttpResponse:
    session = selectors.session_get(user=request.user, session_id=session_id)
    return partial(request, "portal/instances/_card.html", {"session": session})


@login_required
@require_GET
@not_found_as_404
def instance_history(request: HttpRequest, session_id: str) -> HttpResponse:
    history = selectors.session_history(user=request.user, session_id=session_id)[:HISTORY_SIZE]
    return partial(request, "portal/instances/_history.html", {"session_id": session_id, "history": history})


@login_required
@require_GET
@not_found_as_404
def instance_qr(request: HttpRequest, session_id: str) -> HttpResponse:
    """The current QR as a PNG. Pages add ``?v=<attempt>`` so each new code is a new
    URL; ``no-store`` keeps an old code from being shown from a cache."""
    session = selectors.session_get(user=request.user, session_id=session_id)
    try:
        png = linking.qr_image(session=session)
    except Conflict as exc:
        return HttpResponse(exc.message, status=409, content_type="text/plain; charset=utf-8")
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
@not_found_as_404
def instance_delete(request: HttpRequest, session_id: str) -> HttpResponse:
    """GET: the confirmation page; POST: unlink and delete for good."""
    session = selectors.session_get(user=request.user, session_id=session_id)
    if request.method == "GET":
        return render(request, "portal/instances/delete.html", {"session": session})
    try:
        services.session_delete(user=request.user, session_id=session.id)
    except NotFound:
        raise  # deleted meanwhile (another tab): the 404 page
    except AppError as exc:
        messages.error(request, exc.message)
        return back_to(request, reverse("portal:instance", args=[session.id]))
    messages.success(request, f"Instance “{session.name}” is deleted.")
    return back_to(request, reverse("portal:dashboard"))
