"""Each provider adapter against a stand-in speaking its protocol: SMTP against an aiosmtpd
sink, the Twilio-compatible API against a recording HTTP sink, SNS against moto's server."""

import json
import subprocess
import sys
import urllib.request

import pytest

from notifications import delivery, services
from notifications.models import Notification
from notifications.transports import PermanentTransportError, TransportError, email, sms
from tests.notifications.sinks import SmsSink, SmtpSink
from tests.realservices import free_port, wait_for_port

pytestmark = pytest.mark.services

Q = Notification.Status


def row_for(user, channel: str) -> Notification:
    user.notify_email, user.notify_sms = channel == "email", channel == "sms"
    user.save()
    return services.notification_write(
        event_key="driver_nearby",
        recipient=user,
        audience="customer",
        scope=channel,
        extra={"tracking_number": "DM-TEST-1", "link": "http://127.0.0.1:8000/track/DM-TEST-1/"},
    )


@pytest.fixture
def smtp_sink(settings):
    sink = SmtpSink().start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": sink.port, "timeout": 5},
        }
    }
    yield sink
    sink.stop()


@pytest.fixture
def sms_sink(settings):
    sink = SmsSink().start()
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_API_BASE = f"http://127.0.0.1:{sink.port}"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "ACtest", "secret"
    settings.TWILIO_FROM_NUMBER = "+32460000000"
    sms._backend.cache_clear()
    yield sink
    sink.stop()
    sms._backend.cache_clear()


def test_smtp_adapter_delivers_plain_and_html_to_the_sink(alice, smtp_sink):
    row = row_for(alice, "email")
    delivery.notification_deliver(notification_id=row.pk)
    row.refresh_from_db()
    assert row.status == Q.SENT
    [received] = smtp_sink.messages
    assert received.to == "alice@example.com"
    assert received.key == row.idempotency_key
    assert received.subject == row.subject
    assert received.html
    assert "DM-TEST-1" in received.body
    assert row.provider_id.startswith("<") and row.provider_id.endswith(">")


def test_smtp_server_unreachable_is_a_retryable_error(alice, settings):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "timeout": 2},
        }
    }
    row = row_for(alice, "email")
    with pytest.raises(TransportError) as caught:
        email.send_email(row)
    assert not isinstance(caught.value, PermanentTransportError)


def test_twilio_adapter_posts_the_message_and_returns_its_sid(alice, sms_sink):
    row = row_for(alice, "sms")
    delivery.notification_deliver(notification_id=row.pk)
    row.refresh_from_db()
    assert row.status == Q.SENT and row.provider_id.startswith("SM")
    [received] = sms_sink.accepted
    assert (received.to, received.body, received.key) == (
        alice.phone,
        row.body,
        row.idempotency_key,
    )


def test_twilio_server_error_is_retried_and_client_error_is_not(alice, sms_sink):
    row = row_for(alice, "sms")
    sms_sink.reset(always_fail=True)
    with pytest.raises(TransportError) as server_error:
        sms.get_backend().send(to=alice.phone, body="x", key="k1")
    assert not isinstance(server_error.value, PermanentTransportError)
    assert "HTTP 500" in str(server_error.value)

    sms_sink.reset()
    sms_sink.answer_status = 400
    assert delivery.notification_deliver(notification_id=row.pk) is None
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Q.FAILED, 1)
    assert row.last_error.startswith("HTTP 400")


@pytest.fixture
def moto_sns(settings, monkeypatch, tmp_path):
    port = free_port()
    log = open(tmp_path / "moto.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        settings.SMS_BACKEND = "sns"
        settings.AWS_SNS_ENDPOINT_URL = f"http://127.0.0.1:{port}"
        settings.AWS_SNS_REGION_NAME = "eu-west-1"
        sms._backend.cache_clear()
        yield f"http://127.0.0.1:{port}"
    finally:
        sms._backend.cache_clear()
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_sns_adapter_publishes_an_sms_through_moto_server(alice, moto_sns):
    row = row_for(alice, "sms")
    delivery.notification_deliver(notification_id=row.pk)
    row.refresh_from_db()
    assert row.status == Q.SENT, row.last_error
    with urllib.request.urlopen(f"{moto_sns}/moto-api/data.json", timeout=5) as response:
        data = json.load(response)
    messages = data["sns"]["SMS"]
    assert [(m["message_id"], m["phone_number"], m["message"]) for m in messages] == [
        (row.provider_id, alice.phone, row.body)
    ]
