"""Fewer indexes on messages: each one is written on every send and every status
step. The foreign keys are covered by the composite indexes that lead with them,
acks look up (session, wa_id), and the primary key's LIKE index (PostgreSQL) serves
no query."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _pk_like_index(schema_editor) -> str:
    return schema_editor._create_index_name("messaging_message", ["id"], suffix="_like")


def _drop_pk_like_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{_pk_like_index(schema_editor)}"')


def _create_pk_like_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{_pk_like_index(schema_editor)}" '
            'ON "messaging_message" ("id" varchar_pattern_ops)'
        )


class Migration(migrations.Migration):
    dependencies = [
        ("instances", "0004_sessionmove"),
        ("messaging", "0003_last_dispatched"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(_drop_pk_like_index, _create_pk_like_index),
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
