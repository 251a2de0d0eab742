"""Message endpoints: send (API key or user login), history, one message."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from control_plane.core.apis import DeveloperApi
from control_plane.core.pagination import CursorPagination
from control_plane.core.parsers import StrictJSONParser
from control_plane.messaging import selectors, services
from control_plane.messaging.inputs import MAX_TEXT, parse_send
from control_plane.messaging.models import Message
from control_plane.messaging.render import message_json


class MessageOutput(serializers.ModelSerializer):
    session = serializers.CharField(source="session_id")
    to = serializers.CharField(source="to_number")
    type = serializers.CharField(source="kind")
    error = serializers.SerializerMethodField()
    # "from" is a Python keyword: added in to_representation.

    class Meta:
        model = Message
        fields = [
            "id",
            "session",
            "direction",
            "chat",
            "to",
            "type",
            "text",
            "caption",
            "mimetype",
            "filename",
            "status",
            "wa_id",
            "error",
            "error_code",
            "created_at",
            "dispatched_at",
            "sent_at",
            "delivered_at",
            "read_at",
            "failed_at",
            "received_at",
        ]

    def get_error(self, message: Message) -> str | None:
        return message.error or None

    def to_representation(self, message: Message) -> dict:
        data = super().to_representation(message)
        data["from"] = message.from_number
        return data


class MediaInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000, required=False)
    data = serializers.CharField(required=False, trim_whitespace=False)
    mimetype = serializers.CharField(max_length=100, required=False)
    filename = serializers.CharField(max_length=255, required=False)


class SendInput(serializers.Serializer):
    """The send body for the OpenAPI schema; ``inputs.parse_send`` checks it (a test
    keeps the two in step)."""

    to = serializers.CharField(max_length=32)
    type = serializers.ChoiceField(choices=Message.Kind.values, default="text")
    text = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, trim_whitespace=False)
    caption = serializers.CharField(max_length=4096, required=False, allow_blank=True)
    media = MediaInputSerializer(required=False)
    file = serializers.FileField(required=False)


class SessionMessagesApi(DeveloperApi):
    parser_classes = [StrictJSONParser, MultiPartParser]
    max_body_setting = "MESSAGE_MAX_BODY_BYTES"

    @extend_schema(
        parameters=[OpenApiParameter("direction", str, enum=["in", "out"]), OpenApiParameter("chat", str)],
        responses={200: MessageOutput(many=True)},
    )
    def get(self, request: Request, session_id: str) -> Response:
        messages = selectors.message_list(
            user=request.user,
            session_id=session_id,
            direction=request.query_params.get("direction"),
            chat=request.query_params.get("chat"),
        )
        paginator = CursorPagination()
        paginator.ordering = ("-created_at", "-id")
        page = paginator.paginate_queryset(messages, request, view=self)
        return paginator.get_paginated_response([message_json(m) for m in page])

    @extend_schema(
        request=SendInput,
        parameters=[
            OpenApiParameter("wait", bool, description="answer after the worker's result (200) or 504"),
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER),
        ],
        responses={202: MessageOutput, 200: MessageOutput},
    )
    def post(self, request: Request, session_id: str) -> Response:
        body = parse_send(request.data, request.FILES)
        media_input = services.MediaInput(upload=body.upload, **body.media) if body.has_media else None
        wait = request.query_params.get("wait", "").lower() in ("1", "true", "yes")
        message, created = services.message_send(
            user=request.user,
            session_id=session_id,
            to=body.to,
            kind=body.kind,
            text=body.text,
            media_input=media_input,
            caption=body.caption,
            idempotency_key=(request.headers.get("Idempotency-Key") or "").strip()[:200] or None,
            dispatch=not wait,
        )

        headers = {} if created else {"Idempotent-Replayed": "true"}
        if wait:
            message = services.message_send_and_wait(message=message)
            return Response(message_json(message), status=status.HTTP_200_OK, headers=headers)
        body = message_json(message)
        if created:
            body["status"] = "queued"  # API.md: the 202 says accepted into the queue; GET shows progress
        return Response(body, status=status.HTTP_202_ACCEPTED, headers=headers)


class MessageDetailApi(DeveloperApi):
    @extend_schema(responses={200: MessageOutput})
    def get(self, request: Request, message_id: str) -> Response:
        return Response(message_json(selectors.message_get(user=request.user, message_id=message_id)))
