"""SMS adapters, chosen by SMS_BACKEND: `console` (the default: printed), `file` (one JSON line
per message in SMS_FILE_PATH), `sns` (AWS SNS through boto3) and `twilio` (Twilio's Messages
API, or any service that speaks it, at TWILIO_API_BASE). A dotted path selects a custom class
with the same `send(*, to, body, key) -> str` method."""

import base64
import json
import logging
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from notifications.transports import PermanentTransportError, TransportError

log = logging.getLogger(__name__)


class SmsBackend(Protocol):
    def send(self, *, to: str, body: str, key: str) -> str: ...


def _require_number(to: str) -> None:
    if not to:
        raise PermanentTransportError("The recipient has no phone number.")


class ConsoleSms:
    def send(self, *, to: str, body: str, key: str) -> str:
        _require_number(to)
        sys.stdout.write(f"SMS to {to}: {body}\n")
        sys.stdout.flush()
        return f"console-{uuid.uuid4().hex}"


class FileSms:
    _lock = threading.Lock()

    def send(self, *, to: str, body: str, key: str) -> str:
        _require_number(to)
        provider_id = f"file-{uuid.uuid4().hex}"
        at = datetime.now(UTC).isoformat()
        line = json.dumps({"id": provider_id, "to": to, "body": body, "key": key, "at": at})
        with self._lock, open(settings.SMS_FILE_PATH, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        return provider_id


class SnsSms:
    """AWS SNS direct publish to a phone number (transactional)."""

    def __init__(self) -> None:
        import boto3
        from botocore.config import Config

        self.client = boto3.client(
            "sns",
            region_name=settings.AWS_SNS_REGION_NAME,
            endpoint_url=settings.AWS_SNS_ENDPOINT_URL or None,
            config=Config(
                connect_timeout=settings.SMS_TIMEOUT,
                read_timeout=settings.SMS_TIMEOUT,
                retries={"max_attempts": 1},
            ),
        )

    def send(self, *, to: str, body: str, key: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        _require_number(to)
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if settings.AWS_SNS_SENDER_ID:
            attributes["AWS.SNS.SMS.SenderID"] = {
                "DataType": "String",
                "StringValue": settings.AWS_SNS_SENDER_ID,
            }
        try:
            response = self.client.publish(
                PhoneNumber=to, Message=body, MessageAttributes=attributes
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
            text = f"SNS {error.get('Code', status)}: {error.get('Message', exc)}"
            throttled = error.get("Code") in ("Throttling", "ThrottlingException")
            if 400 <= status < 500 and not throttled:
                raise PermanentTransportError(text) from exc
            raise TransportError(text) from exc
        except BotoCoreError as exc:
            raise TransportError(f"SNS: {exc}") from exc
        return response["MessageId"]


class TwilioSms:
    """POST /2010-04-01/Accounts/{sid}/Messages.json with basic auth; the message's key goes
    in an Idempotency-Key header for providers that deduplicate."""

    def send(self, *, to: str, body: str, key: str) -> str:
        _require_number(to)
        sid = settings.TWILIO_ACCOUNT_SID
        base = settings.TWILIO_API_BASE.rstrip("/")
        url = f"{base}/2010-04-01/Accounts/{urllib.parse.quote(sid)}/Messages.json"
        fields = {"To": to, "Body": body}
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            fields["MessagingServiceSid"] = settings.TWILIO_MESSAGING_SERVICE_SID
        else:
            fields["From"] = settings.TWILIO_FROM_NUMBER
        token = base64.b64encode(f"{sid}:{settings.TWILIO_AUTH_TOKEN}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 - the URL is our configured provider
            url,
            data=urllib.parse.urlencode(fields).encode(),
            headers={
                "Authorization": f"Basic {token}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Idempotency-Key": key,
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.SMS_TIMEOUT) as response:  # noqa: S310
                data = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode(errors="replace")
            text = f"HTTP {exc.code}: {detail}"
            if 400 <= exc.code < 500 and exc.code not in (408, 409, 429):
                raise PermanentTransportError(text) from exc
            raise TransportError(text) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        if not data.get("sid"):
            raise TransportError(f"The provider answered without a message id: {data}")
        return str(data["sid"])


BACKENDS = {"console": ConsoleSms, "file": FileSms, "sns": SnsSms, "twilio": TwilioSms}


@cache
def _backend(name: str, *config: str) -> SmsBackend:
    cls = BACKENDS.get(name) or import_string(name)
    return cls()


def get_backend() -> SmsBackend:
    # Keyed on the settings a client is built from, so a changed endpoint gets a new client.
    return _backend(
        settings.SMS_BACKEND, settings.AWS_SNS_ENDPOINT_URL, settings.AWS_SNS_REGION_NAME
    )
