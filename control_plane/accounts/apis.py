"""Accounts endpoints: register, login, refresh, /v1/me, API keys."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from control_plane.accounts import selectors, services
from control_plane.accounts.models import ApiKey, User
from control_plane.core.apis import DeveloperApi, PublicApi, UserApi
from control_plane.core.pagination import CursorPagination


class UserOutput(serializers.ModelSerializer):
    tier = serializers.CharField(source="tier_id", allow_null=True)

    class Meta:
        model = User
        fields = ["id", "email", "name", "tier", "is_staff", "date_joined"]


class TokenPairOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RegisterApi(PublicApi):
    class Input(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        password = serializers.CharField(max_length=128, trim_whitespace=False)
        name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")

    @extend_schema(
        request=Input,
        responses={
            201: inline_serializer(
                "RegisterOutput",
                {"user": UserOutput(), "access": serializers.CharField(), "refresh": serializers.CharField()},
            )
        },
    )
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        return Response(
            {"user": UserOutput(user).data, **services.user_tokens(user=user)}, status=status.HTTP_201_CREATED
        )


class LoginApi(PublicApi):
    class Input(serializers.Serializer):
        email = serializers.CharField(max_length=254)
        password = serializers.CharField(max_length=128, trim_whitespace=False)

    @extend_schema(request=Input, responses={200: TokenPairOutput})
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_login(**data.validated_data, client_ip=request.META.get("REMOTE_ADDR"))
        return Response(services.user_tokens(user=user))


class RefreshApi(PublicApi):
    class Input(serializers.Serializer):
        refresh = serializers.CharField(max_length=2000)

    @extend_schema(
        request=Input,
        responses={200: inline_serializer("RefreshOutput", {"access": serializers.CharField()})},
    )
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        return Response({"access": services.token_refresh(refresh=data.validated_data["refresh"])})


class MeApi(DeveloperApi):
    """Who the credential belongs to; API keys work here too, so a developer can check a key."""

    @extend_schema(
        responses={
            200: inline_serializer(
                "Me",
                {
                    "id": serializers.CharField(),
                    "email": serializers.EmailField(),
                    "name": serializers.CharField(),
                    "tier": serializers.CharField(),
                    "is_staff": serializers.BooleanField(),
                    "limits": serializers.DictField(),
                    "usage": serializers.DictField(),
                },
            )
        }
    )
    def get(self, request: Request) -> Response:
        user = request.user
        return Response(
            {
                "id": user.id,
                "email": user.email,
                "name": user.name,
                "tier": user.tier_id,
                "is_staff": user.is_staff,
                "limits": selectors.user_limits(user=user),
                "usage": selectors.user_usage(user=user),
            }
        )


class ApiKeyOutput(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "created_at", "last_used_at"]


class ApiKeyListCreateApi(UserApi):
    class Input(serializers.Serializer):
        name = serializers.CharField(max_length=100)

    class CreatedOutput(ApiKeyOutput):
        key = serializers.CharField(help_text="The key itself, shown only in this answer.")

        class Meta(ApiKeyOutput.Meta):
            fields = [*ApiKeyOutput.Meta.fields, "key"]

    @extend_schema(responses={200: ApiKeyOutput(many=True)})
    def get(self, request: Request) -> Response:
        paginator = CursorPagination()
        page = paginator.paginate_queryset(selectors.api_key_list(user=request.user), request, view=self)
        return paginator.get_paginated_response(ApiKeyOutput(page, many=True).data)

    @extend_schema(request=Input, responses={201: CreatedOutput})
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        key, raw = services.api_key_create(user=request.user, name=data.validated_data["name"])
        key.key = raw
        return Response(self.CreatedOutput(key).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(UserApi):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, key_id: str) -> Response:
        services.api_key_revoke(user=request.user, key_id=key_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
