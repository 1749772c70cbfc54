"""Notification fixtures: eager Celery whatever the configuration (so unit tests send inline to
Django's locmem mailer and the console SMS backend), and an SMS backend that records or fails."""

import pytest
from celery import current_app

from notifications import delivery
from notifications.transports import sms


@pytest.fixture
def eager():
    """Run Celery tasks inline, as the embedded default does, even when REDIS_URL is set."""
    delivery._broker_down_until = 0.0
    conf = current_app.conf
    saved = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    yield
    conf.task_always_eager, conf.task_eager_propagates = saved


class RecordingSms:
    """An in-process SMS provider: records what it accepts, or fails as told."""

    sent: list[dict] = []
    fail_with: Exception | None = None

    def send(self, *, to: str, body: str, key: str) -> str:
        if RecordingSms.fail_with is not None:
            raise RecordingSms.fail_with
        RecordingSms.sent.append({"to": to, "body": body, "key": key})
        return f"rec-{len(RecordingSms.sent)}"


@pytest.fixture
def sms_outbox(settings):
    """SMS go to RecordingSms; returns its list of sent messages."""
    settings.SMS_BACKEND = "tests.notifications.conftest.RecordingSms"
    RecordingSms.sent = []
    RecordingSms.fail_with = None
    sms._backend.cache_clear()
    yield RecordingSms.sent
    RecordingSms.fail_with = None
    sms._backend.cache_clear()
