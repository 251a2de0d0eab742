"""ASGI entry point: websockets (Channels) and, in development, HTTP too."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "control_plane.config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from control_plane.config.routing import websocket_application  # noqa: E402
from control_plane.config.serving import ready_to_serve  # noqa: E402

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application})
ready_to_serve()
