"""Fewer indexes on messages: each one is written on every send and every status
step. The foreign keys are covered by the composite indexes that lead with them,
acks look up (session, wa_id), and the primary key's LIKE index (PostgreSQL) serves
no query."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _pk_like_index(drop: bool):
    """Drop (or, going back, recreate) the primary key's LIKE index; PostgreSQL only."""

    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        name = schema_editor._create_index_name("messaging_message", ["id"], suffix="_like")
        if drop:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')
        else:
            schema_editor.execute(
                f'CREATE INDEX IF NOT EXISTS "{name}" ON "messaging_message" ("id" varchar_pattern_ops)'
            )

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("instances", "0004_sessionmove"),
        ("messaging", "0003_last_dispatched"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(_pk_like_index(drop=True), _pk_like_index(drop=False)),
        migrations.AlterField(
            model_name="message",
            name="owner",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="messages",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="message",
            name="session",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="messages",
                to="instances.session",
            ),
        ),
        migrations.AlterField(
            model_name="message",
            name="wa_id",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["session", "wa_id"], name="messaging_m_session_d6f583_idx"),
        ),
    ]
