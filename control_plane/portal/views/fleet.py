"""The operators' fleet page: workers (status, load, capacity, last heartbeat, drain)
and problematic sessions across customers. Staff only."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from control_plane.core.errors import AppError, NotFound
from control_plane.fleet import selectors, services
from control_plane.portal.web import back_to, not_found_as_404, partial, staff_required
from control_plane.sessions.selectors import session_problematic_all

PROBLEMATIC_SHOWN = 50


def _workers_context() -> dict[str, Any]:
    return {"workers": selectors.worker_list(), "stats": selectors.fleet_statistics()}


@staff_required
@require_GET
def fleet(request: HttpRequest) -> HttpResponse:
    context = {
        "nav": "fleet",
        "problematic": session_problematic_all().order_by("-updated_at")[:PROBLEMATIC_SHOWN],
        **_workers_context(),
    }
    return render(request, "portal/fleet/index.html", context)


@staff_required
@require_GET
def fleet_workers(request: HttpRequest) -> HttpResponse:
    """The workers table alone; the page polls it (workers are not pushed on the websocket)."""
    return partial(request, "portal/fleet/_workers.html", _workers_context())


@staff_required
@require_POST
@not_found_as_404
def worker_drain(request: HttpRequest, worker_id: str, cancel: bool = False) -> HttpResponse:
    worker = selectors.worker_get(worker_id=worker_id)
    try:
        if cancel:
            services.worker_drain_cancel(worker=worker)
            messages.success(request, f"{worker.id} takes new sessions again.")
        else:
            services.worker_drain(worker=worker)
            messages.success(
                request, f"{worker.id} is draining: no new sessions, and its sessions move to other workers."
            )
    except NotFound:
        raise
    except AppError as exc:
        messages.error(request, exc.message)
    if request.htmx:
        return partial(request, "portal/fleet/_workers.html", _workers_context())
    return back_to(request, reverse("portal:fleet"))
