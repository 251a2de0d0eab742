"""Websocket routes (served by the ASGI process)."""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from control_plane.sessions.consumers import SessionEventsConsumer

websocket_urlpatterns = [path("ws/", SessionEventsConsumer.as_asgi())]

websocket_application = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
