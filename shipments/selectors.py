"""Reads of shipments, always scoped to who is asking."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import dateformat, timezone

from dropmate.accounts.models import User
from dropmate.lib.exceptions import NotFound
from shipments import lifecycle, tracking_numbers
from shipments.models import Shipment, ShipmentEvent
from shipments.services import REDELIVERY_MARK, actor_role

# How many times a customer may choose a new delivery time for one shipment online.


def shipments_visible_to(*, user: User) -> QuerySet[Shipment]:
    """Customers see their own, drivers those assigned to them, staff all of them."""
    qs = Shipment.objects.select_related("customer", "driver__user", "driver__vehicle")
    role = actor_role(user)
    if role in lifecycle.STAFF:
        return qs
    if role == lifecycle.CUSTOMER:
        return qs.filter(customer=user)
    if role == lifecycle.DRIVER:
        return qs.filter(driver__user=user)
    return qs.none()


def shipment_get_for_user(*, user: User, tracking_number: str) -> Shipment:
    """The shipment if `user` may see it; NotFound otherwise, whether or not it exists."""
    canonical = tracking_numbers.normalize(tracking_number)
    shipment = (
        shipments_visible_to(user=user).filter(tracking_number=canonical).first()
        if canonical
        else None
    )
    if shipment is None:
        raise NotFound("No such shipment.")
    return shipment


def shipment_get_public(*, tracking_number: str) -> Shipment | None:
    """For public tracking: never a draft. Unknown and malformed numbers look the same."""
    canonical = tracking_numbers.normalize(tracking_number)
    if not canonical:
        return None
    return (
        Shipment.objects.exclude(status=lifecycle.Status.DRAFT)
        .filter(tracking_number=canonical)
        .first()
    )


def shipment_events(*, shipment: Shipment, after: int = 0) -> QuerySet[ShipmentEvent]:
    return shipment.events.filter(seq__gt=after).order_by("seq")


def shipment_moves_for(*, shipment: Shipment, user: User) -> list[lifecycle.Move]:
    """The moves `user` may make now: the buttons a page shows."""
    role = actor_role(user)
    moves = lifecycle.moves_from(shipment.status, role)
    if role == lifecycle.DRIVER and (shipment.driver is None or shipment.driver.user_id != user.pk):
        return []
    if role == lifecycle.CUSTOMER and shipment.customer_id != user.pk:
        return []
    return moves


@dataclass(frozen=True)
class RedeliveryOptions:
    """Whether `user` may choose a new delivery time now, and how many the customer has used."""

    offered: bool
    used: int
    limit: int

    @property
    def limit_reached(self) -> bool:
        return self.used >= self.limit

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


def shipment_redelivery_options(*, shipment: Shipment, user: User) -> RedeliveryOptions:
    """`offered` while the shipment is failed_attempt and `user` may make the move (its own
    customer, or staff). `used` counts the customer's own choices: staff's don't count."""
    moves = shipment_moves_for(shipment=shipment, user=user)
    used = shipment.events.filter(data__mark=REDELIVERY_MARK, actor_role=lifecycle.CUSTOMER).count()
    return RedeliveryOptions(
        offered=any(m.needs_window for m in moves),
        used=used,
        limit=settings.DROPMATE_REDELIVERY_LIMIT,
    )


def delivery_window_label(*, start: datetime, end: datetime) -> str:
    """Like "Tue 24 Nov 14:00–16:00", in the site's time zone; both dates when it spans days."""
    start, end = timezone.localtime(start), timezone.localtime(end)
    if start.date() == end.date():
        return f"{dateformat.format(start, 'D j M H:i')}–{dateformat.format(end, 'H:i')}"
    return f"{dateformat.format(start, 'D j M H:i')} – {dateformat.format(end, 'D j M H:i')}"


def shipment_public_view(*, shipment: Shipment) -> dict:
    """What anyone with the tracking number may see: status, timeline, ETA window and a coarse
    area. Never names, phones, street lines, driver identity, photo URLs or internal ids.
    The public tracking page and `GET /api/v1/shipments/track/{tracking}` both use this."""
    events = [
        {"status": e.status, "label": e.get_status_display(), "at": e.created_at}
        for e in shipment.events.filter(kind=ShipmentEvent.Kind.STATUS).order_by("seq")
    ]
    area = None
    if shipment.dropoff_point is not None:
        # Two decimals is about a kilometre: enough for "which part of town", not a door.
        area = {
            "city": shipment.dropoff_city,
            "lat": round(shipment.dropoff_lat, 2),
            "lng": round(shipment.dropoff_lng, 2),
        }
    return {
        "tracking_number": shipment.tracking_number,
        "status": shipment.status,
        "status_label": shipment.get_status_display(),
        "service_level": shipment.service_level,
        "delivery_window_start": shipment.delivery_window_start,
        "delivery_window_end": shipment.delivery_window_end,
        "eta": None,  # filled by live tracking (ETA window) once the driver is on the way
        "area": area,
        "timeline": events,
        "updated_at": shipment.status_changed_at or shipment.created_at,
    }


def shipments_search(
    *,
    user: User,
    statuses: list[str] | None = None,
    created_after=None,
    created_before=None,
    driver_id: int | None = None,
    service_level: str = "",
    search: str = "",
) -> QuerySet[Shipment]:
    """The API's shipment list: what `user` may see, filtered, newest first. `search` matches
    a whole tracking number however it was typed, or part of one, or the customer reference."""
    qs = shipments_visible_to(user=user)
    if statuses:
        qs = qs.filter(status__in=statuses)
    if created_after is not None:
        qs = qs.filter(created_at__gte=created_after)
    if created_before is not None:
        qs = qs.filter(created_at__lt=created_before)
    if driver_id is not None:
        qs = qs.filter(driver_id=driver_id)
    if service_level:
        qs = qs.filter(service_level=service_level)
    search = (search or "").strip()
    if search:
        canonical = tracking_numbers.normalize(search)
        if canonical:
            qs = qs.filter(tracking_number=canonical)
        else:
            qs = qs.filter(
                Q(tracking_number__icontains=search.upper()) | Q(reference__icontains=search)
            )
    return qs.order_by("-created_at", "-pk")


def customer_shipments(
    *, user: User, status: str = "", query: str = "", include_drafts: bool = True
) -> QuerySet[Shipment]:
    """A customer's shipments for "My shipments", newest first, filtered by status and by
    (part of) a tracking number."""
    qs = Shipment.objects.filter(customer=user).select_related("driver__user", "driver__vehicle")
    if not include_drafts:
        qs = qs.exclude(status=lifecycle.Status.DRAFT)
    if status:
        qs = qs.filter(status=status)
    query = "".join((query or "").split()).upper()
    if query:
        canonical = tracking_numbers.normalize(query)
        qs = (
            qs.filter(tracking_number=canonical)
            if canonical
            else qs.filter(tracking_number__icontains=query)
        )
    return qs.order_by("-created_at")


def customer_drafts(*, user: User) -> QuerySet[Shipment]:
    return Shipment.objects.filter(customer=user, status=lifecycle.Status.DRAFT).order_by(
        "-updated_at"
    )
