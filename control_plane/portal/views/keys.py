"""API keys: create (the key is shown once, in the answer to the POST), list, revoke."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from control_plane.accounts import selectors, services
from control_plane.portal.forms import ApiKeyForm
from control_plane.portal.web import back_to, login_required, not_found_as_404, page_or_partial


def _render(request: HttpRequest, form: ApiKeyForm, created: Any = None, status: int = 200) -> HttpResponse:
    context = {"nav": "keys", "keys": selectors.api_key_list(user=request.user), "form": form}
    context["created"] = created
    response = page_or_partial(request, "portal/keys/list.html", "portal/keys/_keys.html", context, status)
    # The raw key is in this page: never keep it in a cache or the back-forward history.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def keys(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _render(request, ApiKeyForm())
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _render(request, form, status=422)
    key, raw = services.api_key_create(user=request.user, name=form.cleaned_data["name"])
    return _render(request, ApiKeyForm(), created={"key": key, "raw": raw})


@login_required
@require_POST
@not_found_as_404
def key_revoke(request: HttpRequest, key_id: str) -> HttpResponse:
    services.api_key_revoke(user=request.user, key_id=key_id)
    messages.success(request, "The key is revoked; requests with it are refused from now on.")
    if request.htmx:
        return _render(request, ApiKeyForm())
    return back_to(request, reverse("portal:keys"))
