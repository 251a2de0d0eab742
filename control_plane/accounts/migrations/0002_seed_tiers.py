"""Seed the three tiers of ../API.md; operators edit them in the admin."""

from django.db import migrations

TIERS = [
    # name, label, sessions, per-session/min, per-user/min, default
    ("basic", "Basic", 1, 10, 30, True),
    ("pro", "Pro", 5, 20, 100, False),
    ("max", "Max", 20, 60, 600, False),
]


def seed(apps, schema_editor):
    Tier = apps.get_model("accounts", "Tier")
    for name, label, sessions, per_session, per_user, default in TIERS:
        Tier.objects.update_or_create(
            name=name,
            defaults={
                "label": label,
                "max_sessions": sessions,
                "messages_per_minute_per_session": per_session,
                "messages_per_minute_per_user": per_user,
                "is_default": default,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
