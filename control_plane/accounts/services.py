"""Writes for accounts: registration, login tokens, API keys."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from control_plane.accounts import api_key_cache, login_throttle
from control_plane.accounts.models import ApiKey, Tier, User
from control_plane.accounts.tiers import seed_default_tiers
from control_plane.core.credentials import API_KEY_PREFIX, hash_secret, new_secret
from control_plane.core.errors import NotAuthenticated, NotFound, ValidationFailed


def default_tier() -> Tier:
    """The sign-up tier; with no tiers at all, the defaults are recreated first."""
    if not Tier.objects.exists():
        seed_default_tiers(Tier)
    return Tier.objects.filter(is_default=True).first() or Tier.objects.order_by("max_sessions").first()


@transaction.atomic
def user_register(*, email: str, password: str, name: str = "") -> User:
    """Create a customer on the default tier (basic) after checking the password rules."""
    email = User.objects.normalize_email(email).strip().lower()
    candidate = User(email=email, name=name)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise ValidationFailed(
            "The password is too weak.", details={"fields": {"password": exc.messages}}
        ) from exc
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationFailed(
            "This e-mail address is already registered.",
            details={"fields": {"email": ["already registered"]}},
        )
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password, name=name, tier=default_tier())
    except IntegrityError as exc:  # a concurrent sign-up with the same address
        raise ValidationFailed(
            "This e-mail address is already registered.",
            details={"fields": {"email": ["already registered"]}},
        ) from exc


def user_login(*, email: str, password: str, client_ip: str | None = None) -> User:
    """Check e-mail and password; one message for both failures (no account probing).
    Repeated failures for an address or from a client are throttled (429)."""
    login_throttle.check(email=email, client_ip=client_ip)
    user = authenticate(username=email.strip().lower(), password=password)
    if user is None:
        login_throttle.record_failure(email=email, client_ip=client_ip)
        raise NotAuthenticated("The e-mail address or password is wrong.")
    return user


def user_tokens(*, user: User) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def token_refresh(*, refresh: str) -> str:
    """A new access token from a valid refresh token of an active user."""
    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        raise NotAuthenticated("The refresh token is invalid or expired.") from exc
    user_id = token.get("user_id")
    if not User.objects.filter(pk=user_id, is_active=True).exists():
        raise NotAuthenticated("The refresh token is invalid or expired.")
    return str(token.access_token)


@transaction.atomic
def api_key_create(*, user: User, name: str) -> tuple[ApiKey, str]:
    """Create a key; the raw key is returned only here and never stored."""
    raw, public = new_secret(API_KEY_PREFIX)
    key = ApiKey.objects.create(user=user, name=name, prefix=public, key_hash=hash_secret(raw))
    return key, raw


@transaction.atomic
def api_key_revoke(*, user: User, key_id: str) -> None:
    """Revoke one of the user's keys; it stops working at once on every server."""
    key = (
        ApiKey.objects.select_for_update(no_key=True)
        .filter(pk=key_id, user=user, revoked_at__isnull=True)
        .first()
    )
    if key is None:
        raise NotFound("No such API key.")
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    transaction.on_commit(api_key_cache.invalidate_everywhere)


def api_key_touch(*, key_id: str) -> None:
    """Record use, at most once a minute per key (no write on every request)."""
    now = timezone.now()
    ApiKey.objects.filter(pk=key_id).exclude(last_used_at__gt=now - timezone.timedelta(minutes=1)).update(
        last_used_at=now
    )


@transaction.atomic
def demo_user_ensure(*, email: str, password: str, staff: bool) -> User:
    """The development stack's demo login: created once, password kept in sync with the file."""
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(
            email=email,
            password=password,
            name=email.split("@")[0],
            tier=default_tier(),
            is_staff=staff,
            is_superuser=staff,
        )
    elif not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return user
