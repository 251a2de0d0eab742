"""Operator endpoints for proxies (staff users only). Credentials go in, never out."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from control_plane.accounts.models import User
from control_plane.core.apis import OperatorApi
from control_plane.core.errors import ValidationFailed
from control_plane.proxies import services
from control_plane.proxies.checks import proxy_check
from control_plane.proxies.models import Proxy


class ProxyOutput(serializers.ModelSerializer):
    worker = serializers.CharField(source="worker_id", allow_null=True)
    owner = serializers.CharField(source="owner_id", allow_null=True)
    has_credentials = serializers.SerializerMethodField()
    sessions = serializers.SerializerMethodField()

    class Meta:
        model = Proxy
        fields = [
            "id",
            "name",
            "kind",
            "host",
            "port",
            "source",
            "worker",
            "device_serial",
            "owner",
            "status",
            "status_reason",
            "public_ip",
            "ip_checked_at",
            "last_rotated_at",
            "failures",
            "rotation_interval_minutes",
            "on_unhealthy",
            "device_info",
            "has_credentials",
            "sessions",
            "created_at",
            "updated_at",
        ]

    def get_has_credentials(self, proxy: Proxy) -> bool:
        return bool(proxy.username or proxy.password_encrypted)

    def get_sessions(self, proxy: Proxy) -> int:
        return proxy.sessions.count()


class ProxyInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=Proxy.Kind.values, default="http")
    host = serializers.CharField(max_length=255)
    port = serializers.IntegerField(min_value=1, max_value=65535)
    username = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    password = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="", write_only=True
    )
    owner = serializers.EmailField(required=False, allow_null=True, default=None)
    rotation_interval_minutes = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, default=None
    )
    on_unhealthy = serializers.ChoiceField(choices=Proxy.OnUnhealthy.values, default="stay")


class ProxyPatchInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=["ok", "disabled"], required=False)
    owner = serializers.EmailField(required=False, allow_null=True)
    rotation_interval_minutes = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    on_unhealthy = serializers.ChoiceField(choices=Proxy.OnUnhealthy.values, required=False)


def _owner(email: str | None) -> User | None:
    if email is None:
        return None
    owner = User.objects.filter(email__iexact=email).first()
    if owner is None:
        raise ValidationFailed("No customer with that e-mail.", details={"fields": {"owner": ["unknown"]}})
    return owner


class ProxyListCreateApi(OperatorApi):
    @extend_schema(responses={200: ProxyOutput(many=True)})
    def get(self, request: Request) -> Response:
        proxies = Proxy.objects.select_related("worker").all()
        if request.query_params.get("source"):
            proxies = proxies.filter(source=request.query_params["source"])
        return Response({"results": ProxyOutput(proxies, many=True).data})

    @extend_schema(request=ProxyInput, responses={201: ProxyOutput})
    def post(self, request: Request) -> Response:
        data = ProxyInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values["owner"] = _owner(values.pop("owner"))
        return Response(ProxyOutput(services.proxy_create(**values)).data, status=status.HTTP_201_CREATED)


class ProxyDetailApi(OperatorApi):
    @extend_schema(responses={200: ProxyOutput})
    def get(self, request: Request, proxy_id: str) -> Response:
        return Response(ProxyOutput(services.proxy_get(proxy_id=proxy_id)).data)

    @extend_schema(request=ProxyPatchInput, responses={200: ProxyOutput})
    def patch(self, request: Request, proxy_id: str) -> Response:
        proxy = services.proxy_get(proxy_id=proxy_id)
        data = ProxyPatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "owner" in values:
            values["owner"] = _owner(values["owner"])
        return Response(ProxyOutput(services.proxy_update(proxy=proxy, **values)).data)

    def delete(self, request: Request, proxy_id: str) -> Response:
        services.proxy_delete(proxy=services.proxy_get(proxy_id=proxy_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProxyRotateApi(OperatorApi):
    @extend_schema(request=None, responses={202: ProxyOutput})
    def post(self, request: Request, proxy_id: str) -> Response:
        proxy = services.proxy_rotate(proxy=services.proxy_get(proxy_id=proxy_id))
        return Response(ProxyOutput(proxy).data, status=status.HTTP_202_ACCEPTED)


class ProxyCheckApi(OperatorApi):
    @extend_schema(request=None, responses={200: ProxyOutput})
    def post(self, request: Request, proxy_id: str) -> Response:
        proxy = services.proxy_get(proxy_id=proxy_id)
        if proxy.source != Proxy.Source.STATIC:
            raise ValidationFailed("Phone proxies are checked by their worker on every heartbeat.")
        return Response(ProxyOutput(proxy_check(proxy=proxy)).data)
