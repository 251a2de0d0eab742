"""The instance page's messages: the recent ones both ways, and a test send."""

from __future__ import annotations

from typing import Any

from django.contrib import messages as flash
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from control_plane.core.errors import AppError, NotFound, ValidationFailed
from control_plane.messaging import selectors, services
from control_plane.portal.forms import SendTestForm
from control_plane.portal.web import form_error, login_required, not_found_as_404, partial

RECENT = 20


def conversation(*, user: Any, session_id: str) -> dict[str, Any]:
    """The context of the messages list (also used by the instance page)."""
    return {
        "recent": selectors.message_list(user=user, session_id=session_id)[:RECENT],
        "session_id": session_id,
    }


@login_required
@require_GET
@not_found_as_404
def instance_messages(request: HttpRequest, session_id: str) -> HttpResponse:
    return partial(
        request, "portal/instances/_conversation.html", conversation(user=request.user, session_id=session_id)
    )


@login_required
@require_POST
@not_found_as_404
def instance_send(request: HttpRequest, session_id: str) -> HttpResponse:
    form = SendTestForm(request.POST)
    sent = False
    if form.is_valid():
        try:
            message, _ = services.message_send(
                user=request.user,
                session_id=session_id,
                to=form.cleaned_data["to"],
                text=form.cleaned_data["text"],
            )
        except NotFound:
            raise
        except ValidationFailed as exc:
            form_error(form, exc)
        except AppError as exc:  # not connected, over the rate limit
            form.add_error(None, exc.message)
        else:
            sent = True
            flash.success(request, f"Message to +{message.to_number} queued; its status updates below.")
    if not request.htmx:
        if not sent:
            flash.error(request, " ".join(_all_errors(form)))
        return HttpResponseRedirect(reverse("portal:instance", args=[session_id]) + "#messages")
    return _form_and_list(
        request, session_id, SendTestForm(initial={"to": form.data.get("to")}) if sent else form
    )


def _all_errors(form: SendTestForm) -> list[str]:
    return [str(error) for errors in form.errors.values() for error in errors]


def _form_and_list(request: HttpRequest, session_id: str, form: SendTestForm) -> HttpResponse:
    """The form swapped in place, and the list out of band so the new message shows."""
    response = partial(
        request,
        "portal/instances/_send_form.html",
        {"send_form": form, "session_id": session_id},
        status=200 if not form.errors else 422,
    )
    listing = conversation(user=request.user, session_id=session_id)
    response.content += render_to_string(
        "portal/instances/_conversation.html", {**listing, "oob": True}, request=request
    ).encode()
    return response
