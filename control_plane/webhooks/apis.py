"""Webhook endpoints (JWT, browser session or API key)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from control_plane.core.apis import DeveloperApi
from control_plane.core.pagination import CursorPagination
from control_plane.webhooks import selectors, services
from control_plane.webhooks.models import EVENTS, Delivery, DeliveryAttempt, Webhook


class WebhookOutput(serializers.ModelSerializer):
    session = serializers.CharField(source="session_id", allow_null=True)

    class Meta:
        model = Webhook
        fields = ["id", "url", "events", "session", "is_active", "created_at"]


class AttemptOutput(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "started_at", "duration_ms", "status_code", "error", "response_excerpt"]


class DeliveryOutput(serializers.ModelSerializer):
    session = serializers.CharField(source="session_id")
    attempt_log = AttemptOutput(many=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event",
            "session",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "created_at",
            "delivered_at",
            "payload",
            "attempt_log",
        ]


class WebhookListCreateApi(DeveloperApi):
    class Input(serializers.Serializer):
        url = serializers.URLField(max_length=2000)
        events = serializers.ListField(
            child=serializers.ChoiceField(choices=EVENTS), min_length=1, max_length=20
        )
        session = serializers.CharField(max_length=100, required=False, allow_null=True)
        secret = serializers.CharField(max_length=200, required=False, allow_null=True, trim_whitespace=False)

    class CreatedOutput(WebhookOutput):
        secret = serializers.CharField(help_text="The signing secret, shown only in this answer.")

        class Meta(WebhookOutput.Meta):
            fields = [*WebhookOutput.Meta.fields, "secret"]

    @extend_schema(responses={200: WebhookOutput(many=True)})
    def get(self, request: Request) -> Response:
        paginator = CursorPagination()
        page = paginator.paginate_queryset(selectors.webhook_list(user=request.user), request, view=self)
        return paginator.get_paginated_response(WebhookOutput(page, many=True).data)

    @extend_schema(request=Input, responses={201: CreatedOutput})
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        webhook, secret = services.webhook_create(
            user=request.user,
            url=values["url"],
            events=values["events"],
            session_id=values.get("session"),
            secret=values.get("secret"),
        )
        webhook.secret = secret
        return Response(self.CreatedOutput(webhook).data, status=status.HTTP_201_CREATED)


class WebhookDetailApi(DeveloperApi):
    @extend_schema(responses={200: WebhookOutput})
    def get(self, request: Request, webhook_id: str) -> Response:
        return Response(WebhookOutput(selectors.webhook_get(user=request.user, webhook_id=webhook_id)).data)

    def delete(self, request: Request, webhook_id: str) -> Response:
        services.webhook_delete(user=request.user, webhook_id=webhook_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryListApi(DeveloperApi):
    @extend_schema(responses={200: DeliveryOutput(many=True)})
    def get(self, request: Request, webhook_id: str) -> Response:
        paginator = CursorPagination()
        page = paginator.paginate_queryset(
            selectors.delivery_list(user=request.user, webhook_id=webhook_id), request, view=self
        )
        return paginator.get_paginated_response(DeliveryOutput(page, many=True).data)


class DeliveryRedeliverApi(DeveloperApi):
    @extend_schema(request=None, responses={202: DeliveryOutput})
    def post(self, request: Request, webhook_id: str, delivery_id: str) -> Response:
        delivery = services.delivery_redeliver(
            user=request.user, webhook_id=webhook_id, delivery_id=delivery_id
        )
        return Response(DeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)
