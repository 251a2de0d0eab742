"""Worker credentials: the fleet enrollment token (register only) and worker tokens."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from control_plane.core.credentials import CredentialKind, bearer_token, presented_kind
from control_plane.fleet.models import Worker
from shared.ids import normalize_id


@dataclass(frozen=True)
class WorkerPrincipal:
    """``request.user`` for worker endpoints: a worker, never a customer or operator."""

    worker: Worker
    is_authenticated: bool = True
    is_staff: bool = False
    is_active: bool = True

    @property
    def pk(self) -> str:
        return self.worker.pk


class WorkerTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        if presented_kind(request) is not CredentialKind.WORKER:
            return None
        from control_plane.fleet.services import worker_authenticate

        worker = worker_authenticate(token=bearer_token(request) or "")
        if worker is None:
            raise exceptions.AuthenticationFailed(
                "The worker token is invalid, was replaced by a newer registration,"
                " or its worker was deleted."
            )
        return WorkerPrincipal(worker), worker

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="wagate-workers"'


class EnrollmentTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <FLEET_ENROLLMENT_TOKEN>``: only for self-registration."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        token = bearer_token(request)
        expected = settings.FLEET_ENROLLMENT_TOKEN
        if token is None:
            return None
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            raise exceptions.AuthenticationFailed("Registration takes the fleet enrollment token.")
        return WorkerPrincipal(Worker(id="enrollment")), "enrollment"

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="wagate-enrollment"'


class IsThisWorker(BasePermission):
    """The token's worker must be the worker in the path."""

    message = "This worker token belongs to another worker."

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = request.user
        path_id = normalize_id(view.kwargs.get("worker_id", ""))
        return isinstance(principal, WorkerPrincipal) and principal.worker.pk == path_id
