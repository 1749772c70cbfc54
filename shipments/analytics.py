"""Figures for the analytics page, computed by the database (aggregates, GROUP BY, ordered
slices); Python only reshapes the few grouped rows that come back.

Which date a figure is counted on:
- volume and revenue: the day the shipment was created (booked);
- on-time rate, pickup-to-delivery time and ETA accuracy: the day it was delivered;
- failed attempts, driver activity: the day it happened.
Days are in the site's time zone (TIME_ZONE); both ends of a range are included.
"""

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from drivers.models import Driver
from shipments.lifecycle import FAILED_ATTEMPT_REASONS, Status
from shipments.models import PaymentState, Shipment, ShipmentEvent
from tracking.models import LocationFix

MAX_DAYS = 366
PERCENTILES = (0.5, 0.9)
REASON_LABELS = dict(FAILED_ATTEMPT_REASONS)
DURATION = DurationField()


class PercentileCont(Aggregate):
    """PostgreSQL's continuous percentile (linear interpolation between neighbours)."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def percentiles(qs: QuerySet, expression, fractions=PERCENTILES) -> dict[float, Any]:
    """The continuous percentiles of `expression` over `qs` (None when `qs` is empty).

    PostgreSQL computes them in one aggregate; elsewhere the database sorts and we fetch the
    two neighbouring values for each fraction (an ORDER BY ... LIMIT 2 OFFSET k), which gives
    the same interpolated figure."""
    if connection.vendor == "postgresql":
        names = {f: f"p{round(f * 1000)}" for f in fractions}
        row = qs.aggregate(
            **{
                names[f]: PercentileCont(expression, f, output_field=expression.output_field)
                for f in fractions
            }
        )
        return {f: row[names[f]] for f in fractions}
    n = qs.count()
    if n == 0:
        return dict.fromkeys(fractions)
    ordered = qs.annotate(_value=expression).order_by("_value").values_list("_value", flat=True)
    out: dict[float, Any] = {}
    for f in fractions:
        position = (n - 1) * f
        low = math.floor(position)
        pair = list(ordered[low : low + 2])
        if len(pair) == 1 or position == low:
            out[f] = pair[0]
        else:
            out[f] = pair[0] + (pair[1] - pair[0]) * (position - low)
    return out


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def since(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def until(self) -> datetime:
        """Exclusive upper bound: midnight after the last day."""
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


@dataclass
class Section:
    key: str
    title: str
    note: str
    columns: list[str]
    rows: list[list[Any]]
    chart: dict[str, Any]
    summary: dict[str, Any] = field(default_factory=dict)


def _minutes(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 60, 1)


def _hours(value: timedelta | None) -> float:
    return 0.0 if value is None else round(value.total_seconds() / 3600, 2)


def _day_trunc(name: str) -> TruncDate:
    return TruncDate(name, tzinfo=timezone.get_current_timezone())


def _delivered_in(period: Period) -> QuerySet[Shipment]:
    # A delivered shipment's last status change is its delivery (delivered is final).
    return Shipment.objects.filter(
        status=Status.DELIVERED,
        status_changed_at__gte=period.since,
        status_changed_at__lt=period.until,
    )


def _pickups_of_delivered(period: Period) -> QuerySet[ShipmentEvent]:
    """One row per shipment delivered in the period: its pickup event (pickup happens once)."""
    return ShipmentEvent.objects.filter(
        kind=ShipmentEvent.Kind.STATUS,
        status=Status.PICKED_UP,
        shipment__status=Status.DELIVERED,
        shipment__status_changed_at__gte=period.since,
        shipment__status_changed_at__lt=period.until,
    )


PICKUP_TO_DELIVERY = ExpressionWrapper(
    F("shipment__status_changed_at") - F("created_at"), output_field=DURATION
)
ETA_ERROR = Case(
    When(
        actual_arrival__gte=F("predicted_arrival"),
        then=ExpressionWrapper(F("actual_arrival") - F("predicted_arrival"), output_field=DURATION),
    ),
    default=ExpressionWrapper(F("predicted_arrival") - F("actual_arrival"), output_field=DURATION),
    output_field=DURATION,
)


# --- the sections ------------------------------------------------------------------------------


def shipments_per_day(*, period: Period) -> Section:
    grouped = (
        Shipment.objects.filter(created_at__gte=period.since, created_at__lt=period.until)
        .annotate(day=_day_trunc("created_at"))
        .values("day", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {(g["day"], g["status"]): g["n"] for g in grouped}
    statuses = [s for s in Status if any(st == s for _, st in counts)]
    days = period.days()
    rows = [
        [
            d.isoformat(),
            *(counts.get((d, s.value), 0) for s in statuses),
            sum(counts.get((d, s.value), 0) for s in statuses),
        ]
        for d in days
    ]
    total = sum(counts.values())
    return Section(
        key="per_day",
        title="Shipments per day by status",
        note="Counted on the day each shipment was created, by its status now.",
        columns=["day", *(s.label for s in statuses), "total"],
        rows=rows,
        chart={
            "type": "bar",
            "stacked": True,
            "labels": [d.isoformat() for d in days],
            "datasets": [
                {"label": s.label, "key": s.value, "data": [r[i + 1] for r in rows]}
                for i, s in enumerate(statuses)
            ],
        },
        summary={"total": total},
    )


def on_time_rate(*, period: Period) -> Section:
    row = (
        _delivered_in(period)
        .filter(delivery_window_end__isnull=False)
        .aggregate(
            delivered=Count("id"),
            on_time=Count("id", filter=Q(status_changed_at__lte=F("delivery_window_end"))),
        )
    )
    delivered, on_time = row["delivered"], row["on_time"]
    late = delivered - on_time
    rate = round(100 * on_time / delivered, 1) if delivered else None
    return Section(
        key="on_time",
        title="On-time rate against the delivery window",
        note="Deliveries in the range with a delivery window; on time = delivered by its end.",
        columns=["delivered", "on time", "late", "on-time rate (%)"],
        rows=[[delivered, on_time, late, rate]],
        chart={
            "type": "doughnut",
            "labels": ["On time", "Late"],
            "datasets": [{"label": "Deliveries", "data": [on_time, late]}],
        },
        summary={"delivered": delivered, "on_time": on_time, "rate": rate},
    )


def pickup_to_delivery(*, period: Period) -> Section:
    qs = _pickups_of_delivered(period)
    values = percentiles(qs, PICKUP_TO_DELIVERY)
    n = qs.count()
    p50, p90 = _minutes(values[0.5]), _minutes(values[0.9])
    return Section(
        key="pickup_to_delivery",
        title="Pickup to delivery time",
        note="Minutes from the pickup scan to delivery, for deliveries in the range.",
        columns=["deliveries", "p50 (min)", "p90 (min)"],
        rows=[[n, p50, p90]],
        chart={
            "type": "bar",
            "labels": ["p50", "p90"],
            "datasets": [{"label": "Minutes", "data": [p50, p90]}],
        },
        summary={"count": n, "p50": p50, "p90": p90},
    )


def revenue(*, period: Period) -> Section:
    captured = Q(payment_state=PaymentState.CAPTURED) | Q(
        payment_state=PaymentState.ON_DELIVERY, status=Status.DELIVERED
    )
    grouped = (
        Shipment.objects.filter(created_at__gte=period.since, created_at__lt=period.until)
        .annotate(day=_day_trunc("created_at"))
        .values("day")
        .annotate(
            captured=Sum("price", filter=captured),
            refunded=Sum("price", filter=Q(payment_state=PaymentState.REFUNDED)),
        )
        .order_by()
    )
    by_day = {g["day"]: g for g in grouped}
    zero = Decimal("0.00")
    rows = []
    for d in period.days():
        g = by_day.get(d, {})
        rows.append(
            [
                d.isoformat(),
                (g.get("captured") or zero).quantize(zero),
                (g.get("refunded") or zero).quantize(zero),
            ]
        )
    total_captured = sum((r[1] for r in rows), zero)
    total_refunded = sum((r[2] for r in rows), zero)
    return Section(
        key="revenue",
        title="Revenue captured and refunded",
        note="By booking day. Captured = card payments captured plus pay-on-delivery orders "
        "delivered; refunded = captured card payments given back.",
        columns=["day", "captured", "refunded"],
        rows=rows,
        chart={
            "type": "bar",
            "labels": [r[0] for r in rows],
            "datasets": [
                {"label": "Captured", "data": [float(r[1]) for r in rows]},
                {"label": "Refunded", "data": [float(r[2]) for r in rows]},
            ],
        },
        summary={"captured": total_captured, "refunded": total_refunded},
    )


def failed_attempt_reasons(*, period: Period) -> Section:
    grouped = (
        ShipmentEvent.objects.filter(
            kind=ShipmentEvent.Kind.STATUS,
            status=Status.FAILED_ATTEMPT,
            created_at__gte=period.since,
            created_at__lt=period.until,
        )
        .values("note")
        .annotate(n=Count("id"))
        .order_by("-n", "note")
    )
    rows = [[REASON_LABELS.get(g["note"], g["note"] or "(none given)"), g["n"]] for g in grouped]
    return Section(
        key="failed_reasons",
        title="Failed-attempt reasons",
        note="Failed delivery attempts in the range, by the reason the driver gave.",
        columns=["reason", "attempts"],
        rows=rows,
        chart={
            "type": "bar",
            "horizontal": True,
            "labels": [r[0] for r in rows],
            "datasets": [{"label": "Attempts", "data": [r[1] for r in rows]}],
        },
        summary={"total": sum(r[1] for r in rows)},
    )


def driver_utilisation(*, period: Period) -> Section:
    """On-duty hours are measured, per driver and day, from their first to their last sign of
    work (a position report or a status change they made); busy hours are pickup-to-delivery
    times of their deliveries."""
    spans: dict[tuple[int, date], tuple[datetime, datetime]] = {}

    def merge(driver_id, day, first, last):
        old = spans.get((driver_id, day))
        spans[(driver_id, day)] = (
            (first, last) if old is None else (min(old[0], first), max(old[1], last))
        )

    fixes = (
        LocationFix.objects.filter(device_time__gte=period.since, device_time__lt=period.until)
        .annotate(day=_day_trunc("device_time"))
        .values("driver_id", "day")
        .annotate(first=Min("device_time"), last=Max("device_time"))
        .order_by()
    )
    for g in fixes:
        merge(g["driver_id"], g["day"], g["first"], g["last"])
    acts = (
        ShipmentEvent.objects.filter(
            actor_role="driver",
            actor__driver__isnull=False,
            created_at__gte=period.since,
            created_at__lt=period.until,
        )
        .annotate(day=_day_trunc("created_at"))
        .values("actor__driver", "day")
        .annotate(first=Min("created_at"), last=Max("created_at"))
        .order_by()
    )
    for g in acts:
        merge(g["actor__driver"], g["day"], g["first"], g["last"])
    on_duty: dict[int, timedelta] = {}
    for (driver_id, _day), (first, last) in spans.items():
        on_duty[driver_id] = on_duty.get(driver_id, timedelta()) + (last - first)

    busy = {
        g["shipment__driver"]: g
        for g in _pickups_of_delivered(period)
        .values("shipment__driver")
        .annotate(busy=Sum(PICKUP_TO_DELIVERY, output_field=DURATION), deliveries=Count("id"))
        .order_by()
    }
    ids = set(on_duty) | set(busy)
    names = {d.pk: str(d) for d in Driver.objects.filter(pk__in=ids).select_related("user")}
    rows = []
    for driver_id in sorted(ids, key=lambda i: names.get(i, "")):
        duty_h = _hours(on_duty.get(driver_id))
        busy_h = _hours(busy.get(driver_id, {}).get("busy"))
        deliveries = busy.get(driver_id, {}).get("deliveries", 0)
        rows.append(
            [
                names.get(driver_id, f"#{driver_id}"),
                duty_h,
                busy_h,
                round(100 * busy_h / duty_h, 1) if duty_h else None,
                deliveries,
                round(deliveries / duty_h, 2) if duty_h else None,
            ]
        )
    return Section(
        key="drivers",
        title="Driver utilisation",
        note="On duty: first to last position or action each day. Busy: pickup to delivery.",
        columns=[
            "driver",
            "on-duty hours",
            "busy hours",
            "utilisation (%)",
            "deliveries",
            "deliveries per hour",
        ],
        rows=rows,
        chart={
            "type": "bar",
            "labels": [r[0] for r in rows],
            "datasets": [
                {"label": "On-duty hours", "data": [r[1] for r in rows]},
                {"label": "Busy hours", "data": [r[2] for r in rows]},
            ],
        },
    )


def eta_accuracy(*, period: Period) -> Section:
    qs = _delivered_in(period).filter(predicted_arrival__isnull=False, actual_arrival__isnull=False)
    values = percentiles(qs, ETA_ERROR)
    n = qs.count()
    p50, p90 = _minutes(values[0.5]), _minutes(values[0.9])
    return Section(
        key="eta",
        title="ETA accuracy",
        note="Absolute difference between the predicted and the actual arrival, in minutes.",
        columns=["deliveries with an ETA", "p50 error (min)", "p90 error (min)"],
        rows=[[n, p50, p90]],
        chart={
            "type": "bar",
            "labels": ["p50", "p90"],
            "datasets": [{"label": "Minutes off", "data": [p50, p90]}],
        },
        summary={"count": n, "p50": p50, "p90": p90},
    )


SECTIONS = (
    shipments_per_day,
    on_time_rate,
    pickup_to_delivery,
    revenue,
    failed_attempt_reasons,
    driver_utilisation,
    eta_accuracy,
)
SECTION_KEYS = (
    "per_day",
    "on_time",
    "pickup_to_delivery",
    "revenue",
    "failed_reasons",
    "drivers",
    "eta",
)


def analytics_report(*, period: Period) -> list[Section]:
    return [section(period=period) for section in SECTIONS]


def analytics_section(*, period: Period, key: str) -> Section | None:
    for section_key, section in zip(SECTION_KEYS, SECTIONS, strict=True):
        if section_key == key:
            return section(period=period)
    return None
