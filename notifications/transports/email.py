"""Email through Django's default mailer (settings.MAILERS["default"]: SMTP in production,
the console locally, locmem in tests)."""

import smtplib
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers, make_msgid

from notifications.transports import PermanentTransportError, TransportError

if TYPE_CHECKING:
    from notifications.models import Notification

KEY_HEADER = "X-DropMate-Notification"


def send_email(notification: "Notification") -> str:
    """Returns the Message-ID, which is what a mail log can be searched by."""
    if not notification.to_address:
        raise PermanentTransportError("The recipient has no email address.")
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(">").strip() or None
    message_id = make_msgid(domain=domain)
    message = EmailMultiAlternatives(
        subject=notification.subject,
        body=notification.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.to_address],
        headers={"Message-ID": message_id, KEY_HEADER: notification.idempotency_key},
    )
    if notification.body_html:
        message.attach_alternative(notification.body_html, "text/html")
    try:
        sent = mailers.default.send_messages([message])
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentTransportError(f"Recipient refused: {exc.recipients}") from exc
    except smtplib.SMTPResponseException as exc:
        error = exc.smtp_error
        if isinstance(error, bytes):
            error = error.decode(errors="replace")
        text = f"SMTP {exc.smtp_code}: {error}"
        if 500 <= exc.smtp_code < 600:
            raise PermanentTransportError(text) from exc
        raise TransportError(text) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise TransportError(f"{type(exc).__name__}: {exc}") from exc
    if not sent:
        raise TransportError("The mailer accepted no message.")
    return message_id
