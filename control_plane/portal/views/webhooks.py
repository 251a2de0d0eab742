"""Webhooks: create (choosing events; the secret is shown once), list, delete, and a
webhook's recent deliveries with their status and a redeliver button."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from control_plane.core.errors import NotFound, ValidationFailed
from control_plane.portal.forms import WebhookForm
from control_plane.portal.web import (
    back_to,
    form_error,
    login_required,
    not_found_as_404,
    page_or_partial,
    partial,
)
from control_plane.sessions.selectors import session_list
from control_plane.webhooks import selectors, services

RECENT_DELIVERIES = 30


def _form(request: HttpRequest, data: Any = None) -> WebhookForm:
    return WebhookForm(data, sessions=session_list(user=request.user))


def _list(request: HttpRequest, form: WebhookForm, created: Any = None, status: int = 200) -> HttpResponse:
    context = {
        "nav": "webhooks",
        "webhooks": selectors.webhook_list(user=request.user).select_related("session"),
        "form": form,
        "created": created,
    }
    response = page_or_partial(
        request, "portal/webhooks/list.html", "portal/webhooks/_webhooks.html", context, status
    )
    response["Cache-Control"] = "no-store"  # the new secret may be in this page
    return response


@login_required
@require_http_methods(["GET", "POST"])
def webhooks(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _list(request, _form(request))
    form = _form(request, request.POST)
    if not form.is_valid():
        return _list(request, form, status=422)
    try:
        webhook, secret = services.webhook_create(
            user=request.user,
            url=form.cleaned_data["url"],
            events=form.cleaned_data["events"],
            session_id=form.cleaned_data["session"] or None,
            secret=form.cleaned_data["secret"] or None,
        )
    except (ValidationFailed, NotFound) as exc:  # a refused URL; an instance deleted meanwhile
        form_error(form, exc)
        return _list(request, form, status=422)
    return _list(request, _form(request), created={"webhook": webhook, "secret": secret})


def _deliveries(request: HttpRequest, webhook_id: str) -> dict[str, Any]:
    deliveries = selectors.delivery_list(user=request.user, webhook_id=webhook_id)[:RECENT_DELIVERIES]
    return {"deliveries": deliveries, "webhook_id": webhook_id}


@login_required
@require_GET
@not_found_as_404
def webhook_detail(request: HttpRequest, webhook_id: str) -> HttpResponse:
    webhook = selectors.webhook_get(user=request.user, webhook_id=webhook_id)
    context = {"nav": "webhooks", "webhook": webhook, **_deliveries(request, webhook.id)}
    return render(request, "portal/webhooks/detail.html", context)


@login_required
@require_GET
@not_found_as_404
def webhook_deliveries(request: HttpRequest, webhook_id: str) -> HttpResponse:
    return partial(request, "portal/webhooks/_deliveries.html", _deliveries(request, webhook_id))


@login_required
@require_POST
@not_found_as_404
def webhook_delete(request: HttpRequest, webhook_id: str) -> HttpResponse:
    services.webhook_delete(user=request.user, webhook_id=webhook_id)
    messages.success(request, "The webhook is deleted; no more events go to it.")
    return back_to(request, reverse("portal:webhooks"))


@login_required
@require_POST
@not_found_as_404
def delivery_redeliver(request: HttpRequest, webhook_id: str, delivery_id: str) -> HttpResponse:
    services.delivery_redeliver(user=request.user, webhook_id=webhook_id, delivery_id=delivery_id)
    messages.success(request, "Sending it again now (same delivery id, so your receiver can de-duplicate).")
    if request.htmx:
        return partial(request, "portal/webhooks/_deliveries.html", _deliveries(request, webhook_id))
    return back_to(request, reverse("portal:webhook", args=[webhook_id]))
