"""Customers, their tiers and their API keys."""

from __future__ import annotations

from functools import partial

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone

from shared.ids import new_id


class Tier(models.Model):
    """A plan: how many sessions a customer may hold and how fast they may send.

    Seeded with basic / pro / max by a migration; operators edit them in the admin.
    """

    name = models.SlugField(primary_key=True, max_length=30)
    label = models.CharField(max_length=60)
    max_sessions = models.PositiveIntegerField()
    messages_per_minute_per_session = models.PositiveIntegerField(default=10)
    messages_per_minute_per_user = models.PositiveIntegerField(default=30)
    is_default = models.BooleanField(default=False, help_text="New sign-ups get this tier.")

    class Meta:
        ordering = ["max_sessions"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_tier"
            ),
        ]

    def __str__(self) -> str:
        return self.label


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: object) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: object) -> User:
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A customer (or, with ``is_staff``, an operator). Logs in with e-mail."""

    id = models.CharField(primary_key=True, max_length=40, default=partial(new_id, "usr"), editable=False)
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="users")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self) -> str:
        return self.email


class ApiKey(models.Model):
    """A developer credential. Only its SHA-256 is stored; ``prefix`` stays visible."""

    id = models.CharField(primary_key=True, max_length=40, default=partial(new_id, "key"), editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=20, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
