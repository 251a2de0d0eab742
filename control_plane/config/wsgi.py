"""WSGI entry point: serves the HTTP API and portal (granian)."""

import os

from django.core.wsgi import get_wsgi_application

from control_plane.config.serving import ready_to_serve, without_process_environment

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "control_plane.config.settings")
application = without_process_environment(get_wsgi_application())
ready_to_serve()
