"""Session endpoints for customers and developers (JWT, browser session or API key)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from control_plane.core.apis import DeveloperApi
from control_plane.core.errors import ValidationFailed
from control_plane.core.pagination import CursorPagination
from control_plane.sessions import linking, selectors, services
from control_plane.sessions.serializers import (
    PairingCodeInput,
    SessionCreateInput,
    SessionOutput,
    SessionUpdateInput,
    StatusChangeOutput,
)

QrOutput = inline_serializer(
    "SessionQr",
    {
        "qr": serializers.CharField(),
        "image": serializers.CharField(help_text="PNG data URI"),
        "expires_at": serializers.DateTimeField(),
        "attempt": serializers.IntegerField(),
    },
)


class SessionListCreateApi(DeveloperApi):
    @extend_schema(parameters=[OpenApiParameter("status", str)], responses={200: SessionOutput(many=True)})
    def get(self, request: Request) -> Response:
        sessions = selectors.session_list(user=request.user, status=request.query_params.get("status"))
        paginator = CursorPagination()
        page = paginator.paginate_queryset(sessions, request, view=self)
        return paginator.get_paginated_response(SessionOutput(page, many=True).data)

    @extend_schema(request=SessionCreateInput, responses={201: SessionOutput})
    def post(self, request: Request) -> Response:
        data = SessionCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        name = services.validate_name(data.validated_data["name"])
        session = services.session_create(
            user=request.user,
            name=name,
            description=data.validated_data["description"],
            proxy=data.validated_data["proxy"],
        )

        return Response(SessionOutput(session).data, status=status.HTTP_201_CREATED)


class SessionDetailApi(DeveloperApi):
    @extend_schema(responses={200: SessionOutput})
    def get(self, request: Request, session_id: str) -> Response:
        return Response(SessionOutput(selectors.session_get(user=request.user, session_id=session_id)).data)

    @extend_schema(request=SessionUpdateInput, responses={200: SessionOutput})
    def patch(self, request: Request, session_id: str) -> Response:
        data = SessionUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if not fields:
            raise ValidationFailed("Nothing to change: send name and/or description.")
        if "name" in fields:
            fields["name"] = services.validate_name(fields["name"])
        session = services.session_update(user=request.user, session_id=session_id, **fields)
        return Response(SessionOutput(session).data)

    def delete(self, request: Request, session_id: str) -> Response:
        services.session_delete(user=request.user, session_id=session_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionConnectApi(DeveloperApi):
    @extend_schema(request=None, responses={202: SessionOutput})
    def post(self, request: Request, session_id: str) -> Response:
        session = services.session_connect(user=request.user, session_id=session_id)
        return Response(SessionOutput(session).data, status=status.HTTP_202_ACCEPTED)


class SessionDisconnectApi(DeveloperApi):
    @extend_schema(request=None, responses={200: SessionOutput})
    def post(self, request: Request, session_id: str) -> Response:
        session, confirmed = services.session_disconnect(user=request.user, session_id=session_id)
        return Response({**SessionOutput(session).data, "worker_confirmed": confirmed})


class SessionLogoutApi(DeveloperApi):
    @extend_schema(request=None, responses={200: SessionOutput})
    def post(self, request: Request, session_id: str) -> Response:
        session, confirmed = services.session_logout(user=request.user, session_id=session_id)
        return Response({**SessionOutput(session).data, "worker_confirmed": confirmed})


class SessionRestartApi(DeveloperApi):
    @extend_schema(request=None, responses={202: SessionOutput})
    def post(self, request: Request, session_id: str) -> Response:
        session = services.session_restart(user=request.user, session_id=session_id)
        return Response(SessionOutput(session).data, status=status.HTTP_202_ACCEPTED)


class SessionQrApi(DeveloperApi):
    @extend_schema(responses={200: QrOutput})
    def get(self, request: Request, session_id: str) -> Response:
        session = selectors.session_get(user=request.user, session_id=session_id)
        return Response(linking.qr_answer(session=session))


class SessionQrPngApi(DeveloperApi):
    @extend_schema(responses={(200, "image/png"): bytes})
    def get(self, request: Request, session_id: str) -> HttpResponse:
        session = selectors.session_get(user=request.user, session_id=session_id)
        response = HttpResponse(linking.qr_image(session=session), content_type="image/png")
        response["Cache-Control"] = "no-store"
        return response


class SessionPairingCodeApi(DeveloperApi):
    @extend_schema(
        request=PairingCodeInput,
        responses={
            200: inline_serializer(
                "PairingCode", {"code": serializers.CharField(), "expires_at": serializers.DateTimeField()}
            )
        },
    )
    def post(self, request: Request, session_id: str) -> Response:
        data = PairingCodeInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            linking.pairing_code_request(
                user=request.user, session_id=session_id, phone=data.validated_data["phone"]
            )
        )


class SessionResetAttemptsApi(DeveloperApi):
    @extend_schema(request=None, responses={200: SessionOutput})
    def post(self, request: Request, session_id: str) -> Response:
        session = services.session_reset_attempts(user=request.user, session_id=session_id)
        return Response(SessionOutput(session).data)


class SessionEventsApi(DeveloperApi):
    @extend_schema(responses={200: StatusChangeOutput(many=True)})
    def get(self, request: Request, session_id: str) -> Response:
        history = selectors.session_history(user=request.user, session_id=session_id)
        paginator = CursorPagination()
        paginator.ordering = ("-created_at", "-id")
        page = paginator.paginate_queryset(history, request, view=self)
        return paginator.get_paginated_response(StatusChangeOutput(page, many=True).data)


class SessionStatsApi(DeveloperApi):
    def get(self, request: Request) -> Response:
        return Response(selectors.session_stats(user=request.user))


class SessionProblematicApi(DeveloperApi):
    @extend_schema(responses={200: SessionOutput(many=True)})
    def get(self, request: Request) -> Response:
        sessions = selectors.session_problematic(user=request.user)
        return Response({"results": SessionOutput(sessions, many=True).data})
