"""WebSocket users come from the session cookie (dropmate.lib.wsauth), as Django's own
session auth would decide: a logged-in session, nothing, a made-up key, a stale session."""

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings

from dropmate.lib.wsauth import SessionUserMiddleware
from tracking.simulator import session_for

pytestmark = pytest.mark.django_db(transaction=True)


def user_for(cookie: str | None):
    seen = {}

    async def app(scope, receive, send):
        seen["scope"] = scope

    headers = [(b"origin", b"http://testserver")]
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    scope = {"type": "websocket", "path": "/ws/fleet/", "headers": headers}
    async_to_sync(SessionUserMiddleware(app))(scope, None, None)
    assert "session" not in seen["scope"]  # only the user is kept
    return seen["scope"]["user"]


def test_the_session_cookie_gives_the_user(alice):
    key = session_for(alice)
    user = user_for(f"theme=dark; {settings.SESSION_COOKIE_NAME}={key}")
    assert user.is_authenticated and user.pk == alice.pk


@pytest.mark.parametrize("cookie", [None, "theme=dark", f"{settings.SESSION_COOKIE_NAME}=nope"])
def test_no_or_unknown_session_is_anonymous(cookie):
    assert not user_for(cookie).is_authenticated


def test_a_password_change_ends_the_sockets_session(alice):
    key = session_for(alice)
    alice.set_password("a whole new secret 42")
    alice.save()
    assert not user_for(f"{settings.SESSION_COOKIE_NAME}={key}").is_authenticated


def test_a_user_given_by_the_caller_is_kept(alice):
    seen = {}

    async def app(scope, receive, send):
        seen["user"] = scope["user"]

    async_to_sync(SessionUserMiddleware(app))({"type": "websocket", "user": alice}, None, None)
    assert seen["user"] is alice
