"""Create (or reset) the demo operator and customer of ``make run`` from a JSON file."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from control_plane.accounts.services import demo_user_ensure


class Command(BaseCommand):
    help = "Create the demo operator and customer whose logins `make run` prints (development only)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--file", required=True, help="JSON {operator: {email, password}, customer: {...}}"
        )

    def handle(self, *args, **options):
        from django.conf import settings

        if settings.IS_PRODUCTION:
            raise CommandError("Demo users are for development stacks only (WAGATE_ENV=development).")
        logins = json.loads(Path(options["file"]).read_text())
        for role, login in logins.items():
            demo_user_ensure(email=login["email"], password=login["password"], staff=role == "operator")
