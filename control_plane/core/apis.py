"""Base API classes: each declares the credential kinds its endpoints accept."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from control_plane.core.auth import (
    ApiKeyAuthentication,
    BrowserSessionAuthentication,
    UserJwtAuthentication,
    WrongCredentialGuard,
)
from control_plane.core.credentials import CredentialKind
from control_plane.core.errors import envelope


class IsStaff(BasePermission):
    message = "Only operators (staff users) may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and getattr(user, "is_authenticated", False) and getattr(user, "is_staff", False))


class PublicApi(APIView):
    """No credentials (health, register, login)."""

    authentication_classes: list = []
    permission_classes: list = []


class UserApi(APIView):
    """A customer's own account: JWT or browser session only."""

    authentication_classes = [UserJwtAuthentication, BrowserSessionAuthentication, WrongCredentialGuard]
    permission_classes = [IsAuthenticated]
    accepted_credentials = frozenset({CredentialKind.USER})


class DeveloperApi(UserApi):
    """What developers automate (sessions, messages, webhooks): also API keys."""

    authentication_classes = [
        UserJwtAuthentication,
        ApiKeyAuthentication,
        BrowserSessionAuthentication,
        WrongCredentialGuard,
    ]
    accepted_credentials = frozenset({CredentialKind.USER, CredentialKind.API_KEY})


class OperatorApi(UserApi):
    """Fleet operations: staff users with a user login (never an API key)."""

    permission_classes = [IsAuthenticated, IsStaff]


class HealthApi(PublicApi):
    """``GET /v1/health``: 200 when the database and Redis answer, else 503."""

    def get(self, request: Request) -> Any:
        from rest_framework.response import Response

        from control_plane.core.health import health_report

        healthy, report = health_report()
        if healthy:
            return Response(report)
        failed = ", ".join(name for name, check in report["checks"].items() if check["status"] != "ok")
        body = envelope("unhealthy", f"A dependency is down: {failed}.", {"checks": report["checks"]})
        return Response({**body, **report}, status=503)
