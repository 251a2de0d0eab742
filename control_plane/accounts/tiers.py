"""The default plans of ../API.md (operators edit them in the admin)."""

# name, label, sessions, messages/min per session, messages/min per user, default for sign-ups
DEFAULT_TIERS = [
    ("basic", "Basic", 1, 10, 30, True),
    ("pro", "Pro", 5, 20, 100, False),
    ("max", "Max", 20, 60, 600, False),
]


def seed_default_tiers(tier_model) -> None:  # type: ignore[no-untyped-def]
    """Create the default tiers that are missing (works with a migration's historical model)."""
    for name, label, sessions, per_session, per_user, default in DEFAULT_TIERS:
        tier_model.objects.get_or_create(
            name=name,
            defaults={
                "label": label,
                "max_sessions": sessions,
                "messages_per_minute_per_session": per_session,
                "messages_per_minute_per_user": per_user,
                "is_default": default,
            },
        )
