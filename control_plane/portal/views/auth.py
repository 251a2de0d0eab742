"""Sign up, log in, log out, the account page (tier, usage) and password change."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from control_plane.accounts import selectors as account_selectors
from control_plane.accounts import services as account_services
from control_plane.core.errors import NotAuthenticated, RateLimited, ValidationFailed
from control_plane.portal.forms import LoginForm, SignupForm
from control_plane.portal.web import form_error, login_required
from control_plane.sessions import selectors as session_selectors

INVALID = 422  # a form with errors; htmx is configured (base.html) to swap it in


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return "/"


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("portal:dashboard")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = account_services.user_register(**form.cleaned_data)
        except ValidationFailed as exc:
            form_error(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Welcome! Create your first instance to link a WhatsApp number.")
            return redirect("portal:dashboard")
    status = INVALID if form.is_bound else 200
    return render(request, "portal/auth/signup.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return HttpResponseRedirect(_next_url(request))
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = account_services.user_login(**form.cleaned_data, client_ip=request.META.get("REMOTE_ADDR"))
        except (NotAuthenticated, RateLimited) as exc:
            form_error(form, exc)
        else:
            login(request, user)
            return HttpResponseRedirect(_next_url(request))
    status = INVALID if form.is_bound else 200
    context = {"form": form, "next": _next_url(request)}
    return render(request, "portal/auth/login.html", context, status=status)


@require_http_methods(["GET", "POST"])
def logout_view(request: HttpRequest) -> HttpResponse:
    """GET asks (a link must never log anyone out); POST, with its CSRF token, does it."""
    if request.method == "POST":
        logout(request)
        messages.info(request, "You are logged out.")
        return redirect("portal:login")
    if not request.user.is_authenticated:
        return redirect("portal:login")
    return render(request, "portal/auth/logout.html")


def _account_context(request: HttpRequest, password_form: PasswordChangeForm) -> dict:
    user = request.user
    return {
        "nav": "account",
        "tier": user.tier,
        "limits": account_selectors.user_limits(user=user),
        "usage": account_selectors.user_usage(user=user),
        "stats": session_selectors.session_stats(user=user),
        "password_form": password_form,
    }


@login_required
def account(request: HttpRequest) -> HttpResponse:
    context = _account_context(request, PasswordChangeForm(request.user))
    return render(request, "portal/auth/account.html", context)


@login_required
@require_POST
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST)
    if form.is_valid():
        user = form.save()
        # Keep this browser logged in; every other session of the user ends.
        update_session_auth_hash(request, user)
        messages.success(request, "Your password is changed.")
        return redirect("portal:account")
    return render(request, "portal/auth/account.html", _account_context(request, form), status=INVALID)
