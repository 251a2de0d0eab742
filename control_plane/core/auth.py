"""DRF authenticators, one per credential kind, plus the guard that names a
wrong-kind credential instead of silently ignoring it."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from control_plane.core.credentials import KIND_NAMES, CredentialKind, bearer_token, presented_kind


class UserJwtAuthentication(JWTAuthentication):
    """``Authorization: Bearer <JWT access token>``; ignores other bearer kinds."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        if presented_kind(request) is not CredentialKind.USER:
            return None
        try:
            return super().authenticate(request)
        except (InvalidToken, TokenError) as exc:
            raise exceptions.AuthenticationFailed("The access token is invalid or expired.") from exc

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="wagate"'


class BrowserSessionAuthentication(authentication.SessionAuthentication):
    """The portal's session cookie (CSRF enforced for unsafe methods)."""


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``X-Api-Key: <key>`` or ``Authorization: Bearer <key>``."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        if presented_kind(request) is not CredentialKind.API_KEY:
            return None
        raw = request.META.get("HTTP_X_API_KEY") or bearer_token(request) or ""
        from control_plane.accounts.selectors import api_key_authenticate

        found = api_key_authenticate(raw_key=raw.strip())
        if found is None:
            raise exceptions.AuthenticationFailed("The API key is invalid or revoked.")
        user, key_id = found
        request.api_key_id = key_id
        return user, key_id

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="wagate"'


class WrongCredentialGuard(authentication.BaseAuthentication):
    """Last in every list: a credential of a kind this endpoint does not take is an
    explicit 401 naming what the endpoint wants, never a fallthrough."""

    def authenticate(self, request: Request) -> None:
        kind = presented_kind(request)
        view = request.parser_context.get("view") if request.parser_context else None
        accepted: frozenset[CredentialKind] = getattr(view, "accepted_credentials", frozenset())
        if kind is not None and kind not in accepted:
            wanted = " or ".join(KIND_NAMES[k] for k in sorted(accepted)) or "no credentials"
            raise exceptions.AuthenticationFailed(
                f"This endpoint takes {wanted}; {KIND_NAMES[kind]} does not work here."
            )
        return None
