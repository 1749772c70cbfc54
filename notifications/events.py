"""What each notification event is: who it is for, whether it may wait for quiet hours to end,
and the channels to try in order. The first channel the recipient allows is used; the next one
they allow is the fallback when it fails for good (see `notifications.delivery`).

An event may name `secret_keys`: context values meant for the recipient's eyes only (the
handover PIN). The outbox row holds them only while it still has to be sent; once it is done
they are replaced by REDACTED everywhere in the row (see `notifications.redaction`).

Events that are not listed here still send (with the generic templates), so a caller that
introduces a new key never breaks the transaction it is in.
"""

from dataclasses import dataclass

EMAIL = "email"
SMS = "sms"

CUSTOMER = "customer"
DRIVER = "driver"
STAFF = "staff"

# What a secret reads as in the notification log (and in the row once it is done).
REDACTED = "••••"


@dataclass(frozen=True)
class EventSpec:
    key: str
    audience: str
    # Urgent messages ignore quiet hours (someone is about to knock on the door).
    urgent: bool = False
    channels: tuple[str, ...] = (EMAIL, SMS)
    # Context keys whose values staff and backups must never see (e.g. the handover PIN).
    secret_keys: frozenset[str] = frozenset()


_SMS_FIRST = (SMS, EMAIL)
# The PIN lets a driver complete a handover only with the recipient's cooperation.
_PIN = frozenset({"pin"})

EVENTS: dict[str, EventSpec] = {
    spec.key: spec
    for spec in (
        # Customers
        EventSpec("booking_received", CUSTOMER),
        # "accepted" prints a PIN too when a caller passes one.
        EventSpec("accepted", CUSTOMER, secret_keys=_PIN),
        EventSpec("handover_pin", CUSTOMER, secret_keys=_PIN),
        EventSpec("rejected", CUSTOMER),
        EventSpec("driver_assigned", CUSTOMER),
        EventSpec("picked_up", CUSTOMER),
        EventSpec("out_for_delivery", CUSTOMER, urgent=True, channels=_SMS_FIRST),
        EventSpec("eta_updated", CUSTOMER, urgent=True, channels=_SMS_FIRST),
        EventSpec("driver_nearby", CUSTOMER, urgent=True, channels=_SMS_FIRST),
        EventSpec("delivered", CUSTOMER),
        EventSpec("failed_attempt", CUSTOMER, urgent=True, channels=_SMS_FIRST),
        EventSpec("returned", CUSTOMER),
        EventSpec("cancelled", CUSTOMER),
        # Drivers: their phone is where they look.
        EventSpec("job_offered", DRIVER, urgent=True, channels=_SMS_FIRST),
        EventSpec("job_assigned", DRIVER, urgent=True, channels=_SMS_FIRST),
        EventSpec("job_removed", DRIVER, urgent=True, channels=_SMS_FIRST),
        EventSpec("job_cancelled", DRIVER, urgent=True, channels=_SMS_FIRST),
        EventSpec("dispatch_message", DRIVER, urgent=True, channels=_SMS_FIRST),
        # Staff
        EventSpec("order_needs_review", STAFF, urgent=True),
        EventSpec("shipment_late", STAFF, urgent=True),
        EventSpec("driver_silent", STAFF, urgent=True),
        EventSpec("notification_failed", STAFF, urgent=True),
        EventSpec("pin_locked", STAFF, urgent=True),
    )
}

GENERIC = "_generic"


def spec_for(event_key: str, *, audience: str) -> EventSpec:
    spec = EVENTS.get(event_key)
    if spec is not None:
        return spec
    urgent = audience != CUSTOMER
    return EventSpec(event_key, audience, urgent=urgent)


def template_dir(event_key: str) -> str:
    return event_key if event_key in EVENTS else GENERIC
