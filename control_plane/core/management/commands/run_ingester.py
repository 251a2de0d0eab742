"""``python manage.py run_ingester``: apply worker events to the database, forever."""

import logging

from django.core.management.base import BaseCommand

from control_plane.core.ingester import Ingester


class Command(BaseCommand):
    help = "Read the workers' events stream and apply each event once (runs until SIGTERM)."

    def add_arguments(self, parser):
        parser.add_argument("--consumer", help="consumer name in the Redis group (default: ingester-<host>)")

    def handle(self, *args, **options):
        logging.getLogger("control_plane").setLevel(logging.INFO)
        ingester = Ingester(consumer=options.get("consumer"))
        ingester.install_signal_handlers()
        self.stdout.write(f"ingester {ingester.consumer} running")
        ingester.run()
        self.stdout.write(f"ingester stopped: {dict(ingester.counts)}")
