"""Who is on the other end of a WebSocket: the user of the session cookie, as scope["user"].

Channels' AuthMiddlewareStack does this with three middlewares (cookies, session, auth) that
stay on the stack, each with its copy of the scope and the loaded session, for as long as the
socket is open, and wraps every frame the consumer sends to check whether the session
changed. Our sockets never change the session, and a server holds thousands of them: here
the session is read once, the user resolved the same way (channels.auth.get_user: backend,
session hash), and only the user is kept.
"""

from importlib import import_module

from channels.auth import get_user
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie


def _session_key(scope: dict) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            return parse_cookie(value.decode("latin1")).get(settings.SESSION_COOKIE_NAME)
    return None


class SessionUserMiddleware:
    """ASGI middleware for WebSocket routes: scope["user"] from the session cookie (an
    AnonymousUser without a valid session). A scope that already has a user (tests) keeps it."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if "user" not in scope:
            key = _session_key(scope)
            user = AnonymousUser()
            if key:
                store = import_module(settings.SESSION_ENGINE).SessionStore
                user = await get_user({"session": store(key)})
            scope = dict(scope, user=user)
        return await self.app(scope, receive, send)
