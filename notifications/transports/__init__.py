"""One small adapter per provider. `send(notification)` hands a rendered outbox row to the
provider of its channel and returns the provider's id for it.

Adapters raise `TransportError` for what may succeed later (timeouts, 5xx, throttling): the
task retries those. `PermanentTransportError` (a refused number, a 4xx) fails the row at once.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notifications.models import Notification


class TransportError(Exception):
    """The provider did not take the message; trying again may work."""


class PermanentTransportError(TransportError):
    """The provider refused the message for good; retrying cannot help."""


def send(notification: "Notification") -> str:
    from notifications.transports import email, sms

    if notification.channel == "email":
        return email.send_email(notification)
    if notification.channel == "sms":
        return sms.get_backend().send(
            to=notification.to_address, body=notification.body, key=notification.idempotency_key
        )
    raise PermanentTransportError(f"Unknown channel {notification.channel!r}.")
