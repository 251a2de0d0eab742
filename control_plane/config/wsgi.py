"""WSGI entry point: serves the HTTP API and portal (granian)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "control_plane.config.settings")
application = get_wsgi_application()

from control_plane.config.serving import ready_to_serve  # noqa: E402

ready_to_serve()
