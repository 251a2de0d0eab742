"""``/ws/``: a customer's live session events (qr, status, messages).

Authenticated by the portal's session cookie, or by a JWT access token in
the query string (``?token=...``; browsers cannot set headers on websockets).
``?session=<id>`` narrows the stream to one of the customer's sessions.
Events of other customers never reach the socket: each socket joins only its
own customer's group.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from control_plane.sessions.realtime import user_group

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


@database_sync_to_async
def _user_from_token(token: str) -> Any:
    from rest_framework_simplejwt.exceptions import TokenError
    from rest_framework_simplejwt.tokens import AccessToken

    from control_plane.accounts.models import User

    try:
        user_id = AccessToken(token)["user_id"]
    except (TokenError, KeyError):
        return None
    return User.objects.filter(pk=user_id, is_active=True).first()


@database_sync_to_async
def _owns(user: Any, session_id: str) -> str | None:
    from control_plane.core.errors import NotFound
    from control_plane.sessions.selectors import session_get

    try:
        return session_get(user=user, session_id=session_id).id
    except NotFound:
        return None


class SessionEventsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        user = self.scope.get("user")
        if not (user and user.is_authenticated) and query.get("token"):
            user = await _user_from_token(query["token"][0])
        if not (user and user.is_authenticated):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.only_session = None
        if query.get("session"):
            self.only_session = await _owns(user, query["session"][0])
            if self.only_session is None:
                await self.close(code=CLOSE_NOT_FOUND)
                return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"event": "hello", "user": user.pk, "session": self.only_session})

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"event": "pong"})

    async def session_event(self, message: dict[str, Any]) -> None:
        if self.only_session and message["session"] != self.only_session:
            return
        await self.send_json(
            {"event": message["event"], "session": message["session"], "data": message["data"]}
        )
