"""The instance page's buttons: connect, disconnect, log out, restart, reset attempts,
and a pairing code instead of the QR. Each calls one session service; the outcome is a
flash message and, for htmx, the refreshed status panel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from control_plane.core.errors import AppError, NotFound, ValidationFailed
from control_plane.portal.forms import PairingCodeForm
from control_plane.portal.web import form_error, login_required, not_found_as_404, partial
from control_plane.sessions import linking, selectors, services

# action -> (service, what the customer is told when it worked)
ACTIONS: dict[str, tuple[Callable[..., Any], str]] = {
    "connect": (services.session_connect, "Connecting — the QR code appears here in a few seconds."),
    "disconnect": (services.session_disconnect, "Disconnected. The link is kept: connect again any time."),
    "logout": (services.session_logout, "Logged out: the phone is unlinked and its credentials deleted."),
    "restart": (services.session_restart, "Restarting the instance."),
    "reset-attempts": (services.session_reset_attempts, "Connection attempts reset to zero."),
}
UNCONFIRMED = (
    "The worker did not confirm in time; the instance was taken off it anyway and it will let go "
    "as soon as it reads its queue."
)


def _panel(request: HttpRequest, session_id: str, **extra: Any) -> HttpResponse:
    session = selectors.session_get(user=request.user, session_id=session_id)
    context = {"session": session, "qr_max": settings.QR_MAX_CODES, **extra}
    context.setdefault("pairing_form", PairingCodeForm())
    return partial(request, "portal/instances/_panel.html", context)


@login_required
@require_POST
@not_found_as_404
def instance_action(request: HttpRequest, session_id: str, action: str) -> HttpResponse:
    service, done = ACTIONS[action]
    try:
        result = service(user=request.user, session_id=session_id)
    except NotFound:
        raise
    except AppError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
        # disconnect and logout also say whether the worker confirmed the stop
        if isinstance(result, tuple) and not result[1]:
            messages.warning(request, UNCONFIRMED)
    if request.htmx:
        return _panel(request, session_id)
    return HttpResponseRedirect(reverse("portal:instance", args=[session_id]))


@login_required
@require_POST
@not_found_as_404
def instance_pairing_code(request: HttpRequest, session_id: str) -> HttpResponse:
    """Ask the worker for a code to type on the phone (waits for it, like the API)."""
    form = PairingCodeForm(request.POST)
    pairing = None
    if form.is_valid():
        try:
            pairing = linking.pairing_code_request(
                user=request.user, session_id=session_id, phone=form.cleaned_data["phone"]
            )
        except ValidationFailed as exc:
            form_error(form, exc)
        except NotFound:
            raise
        except AppError as exc:  # not waiting for a scan, or the worker did not answer
            messages.error(request, exc.message)
    if not request.htmx:
        if pairing:
            messages.success(request, f"Type this code on your phone: {pairing['code']}")
        elif form.errors:
            messages.error(request, " ".join(form.errors.get("phone", []) + form.non_field_errors()))
        return HttpResponseRedirect(reverse("portal:instance", args=[session_id]))
    return _panel(request, session_id, pairing=pairing, pairing_form=form)
