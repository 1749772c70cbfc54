"""Writes to the notification outbox.

The hooks below are what the rest of the project calls; the notifications issue fills them in
(templates, preferences, the Celery sender). Until then they write no rows.
"""

from typing import Any

from dropmate.accounts.models import User
from notifications.models import Notification
from shipments.models import Shipment, ShipmentEvent


def notifications_for_shipment_event(
    *, shipment: Shipment, event: ShipmentEvent
) -> list[Notification]:
    """Write the outbox rows a shipment event causes, in the caller's transaction.

    Expects to run inside the transaction that wrote `event` (called by shipments.effects).
    """
    return []


def notify_shipment(
    *, event_key: str, shipment: Shipment, extra: dict[str, Any] | None = None
) -> list[Notification]:
    """Tell a shipment's customer about something that is not a status change
    (e.g. `driver_nearby`, `eta_updated`). Call inside the transaction that caused it."""
    return []


def notify_staff(
    *, event_key: str, shipment: Shipment | None = None, extra: dict[str, Any] | None = None
) -> list[Notification]:
    """Alert dispatchers (e.g. `pin_locked`, `driver_silent`, `shipment_late`)."""
    return []


def notify_driver(
    *,
    event_key: str,
    driver_user: User,
    shipment: Shipment | None = None,
    extra: dict | None = None,
) -> list[Notification]:
    """Tell a driver about a job offered, reassigned or cancelled, or a dispatch message."""
    return []
