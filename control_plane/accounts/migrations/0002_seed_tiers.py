"""Seed the three tiers of ../API.md; operators edit them in the admin."""

from django.db import migrations

from control_plane.accounts.tiers import seed_default_tiers


def seed(apps, schema_editor):
    seed_default_tiers(apps.get_model("accounts", "Tier"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
