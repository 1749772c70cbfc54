"""Figures for the analytics page, computed by the database (aggregates, GROUP BY, ordered
slices); Python only reshapes the few grouped rows that come back.

Which date a figure is counted on:
- volume and revenue: the day the shipment was created (booked);
- on-time rate, pickup-to-delivery time and ETA accuracy: the day it was delivered;
- failed attempts, driver activity: the day it happened.
Days are in the site's time zone (TIME_ZONE); both ends of a range are included.
"""

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.db import connection, connections
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


class PercentilesCont(Aggregate):
    """PostgreSQL's continuous percentiles (linear interpolation between neighbours), several
    from one sort: percentile_cont(ARRAY[...]) WITHIN GROUP (ORDER BY ...)."""

    function = "PERCENTILE_CONT"
    name = "PercentilesCont"
    template = (
        "%(function)s(ARRAY[%(fractions)s]) WITHIN GROUP (ORDER BY %(expressions)s)%(filter)s"
    )

    def __init__(self, expression, fractions, **extra):
        from django.contrib.postgres.fields import ArrayField

        listed = ", ".join(repr(float(f)) for f in fractions)
        output = ArrayField(expression.output_field)
        super().__init__(expression, fractions=listed, output_field=output, **extra)


def percentiles(
    qs: QuerySet, expression, fractions=PERCENTILES, *, where: Q | None = None, **extra
) -> tuple[dict[float, Any], dict[str, Any]]:
    """The continuous percentiles of `expression` over the rows of `qs` matching `where`
    (None when there are none), and the `extra` aggregates over all of `qs`.

    PostgreSQL computes everything in one query; elsewhere the database sorts and we fetch the
    two neighbouring values for each fraction (an ORDER BY ... LIMIT 2 OFFSET k), which gives
    the same interpolated figure."""
    if connection.vendor == "postgresql":
        row = qs.aggregate(_p=PercentilesCont(expression, fractions, filter=where), **extra)
        values = row.pop("_p") or [None] * len(fractions)
        return dict(zip(fractions, values, strict=True)), row
    row = qs.aggregate(**extra) if extra else {}
    subset = qs.filter(where) if where is not None else qs
    n = subset.count()
    if n == 0:
        return dict.fromkeys(fractions), row
    ordered = subset.annotate(_value=expression).order_by("_value").values_list("_value", flat=True)
    out: dict[float, Any] = {}
    for f in fractions:
        position = (n - 1) * f
        low = math.floor(position)
        pair = list(ordered[low : low + 2])
        if len(pair) == 1 or position == low:
            out[f] = pair[0]
        else:
            out[f] = pair[0] + (pair[1] - pair[0]) * (position - low)
    return out, row


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


def _created_in(period: Period) -> QuerySet[Shipment]:
    return Shipment.objects.filter(created_at__gte=period.since, created_at__lt=period.until)


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


# --- the queries, each shared by the sections that need it --------------------------------------


class Figures:
    """The database's answers for one period, each fetched once when first needed."""

    def __init__(self, period: Period) -> None:
        self.period = period

    @cached_property
    def created_groups(self) -> list[dict[str, Any]]:
        """Shipments created per (day, status, payment state): count and amount. One scan
        feeds both the volume and the revenue charts."""
        return list(
            _created_in(self.period)
            .annotate(day=_day_trunc("created_at"))
            .values("day", "status", "payment_state")
            .annotate(n=Count("id"), amount=Sum("price"))
            .order_by()
        )

    @cached_property
    def _deliveries_pg(self) -> dict[str | int, dict[str, Any]]:
        """PostgreSQL: everything about the period's deliveries from one pass over them and
        their pickup events, overall (key "all") and per driver (GROUPING SETS)."""
        fractions = ", ".join(repr(float(f)) for f in PERCENTILES)
        # Only table names and float literals are formatted in; values are parameters.
        sql = f"""
            WITH d AS (
                SELECT s.driver_id, s.status_changed_at AS done, s.delivery_window_end AS due,
                       s.predicted_arrival AS predicted, s.actual_arrival AS actual,
                       e.created_at AS picked
                FROM {Shipment._meta.db_table} s
                LEFT JOIN {ShipmentEvent._meta.db_table} e
                       ON e.shipment_id = s.id AND e.kind = %s AND e.status = %s
                WHERE s.status = %s AND s.status_changed_at >= %s AND s.status_changed_at < %s
            )
            SELECT GROUPING(driver_id) AS overall, driver_id,
                   COUNT(*) FILTER (WHERE due IS NOT NULL) AS with_window,
                   COUNT(*) FILTER (WHERE due IS NOT NULL AND done <= due) AS on_time,
                   COUNT(*) FILTER (WHERE predicted IS NOT NULL AND actual IS NOT NULL)
                       AS with_eta,
                   PERCENTILE_CONT(ARRAY[{fractions}]) WITHIN GROUP
                       (ORDER BY GREATEST(actual - predicted, predicted - actual)) AS eta,
                   COUNT(picked) AS n,
                   SUM(done - picked) AS busy,
                   PERCENTILE_CONT(ARRAY[{fractions}]) WITHIN GROUP (ORDER BY done - picked)
                       AS values
            FROM d
            GROUP BY GROUPING SETS ((driver_id), ())
        """  # noqa: S608
        params = [
            ShipmentEvent.Kind.STATUS,
            Status.PICKED_UP,
            Status.DELIVERED,
            self.period.since,
            self.period.until,
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            names = [c.name for c in cursor.description]
            rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        out: dict[str | int, dict[str, Any]] = {}
        empty = [None] * len(PERCENTILES)
        for row in rows:
            row["eta"] = dict(zip(PERCENTILES, row["eta"] or empty, strict=True))
            row["values"] = dict(zip(PERCENTILES, row["values"] or empty, strict=True))
            out["all" if row["overall"] else row["driver_id"]] = row
        if "all" not in out:  # no deliveries at all: GROUPING SETS still returns () ...
            out["all"] = {
                "with_window": 0,
                "on_time": 0,
                "with_eta": 0,
                "n": 0,
                "eta": dict.fromkeys(PERCENTILES),
                "values": dict.fromkeys(PERCENTILES),
            }
        return out

    @cached_property
    def busy_by_driver(self) -> dict[int, dict[str, Any]]:
        """Per driver: `busy` (sum of pickup-to-delivery times) and `deliveries`."""
        if connection.vendor == "postgresql":
            return {
                k: {"busy": r["busy"], "deliveries": r["n"]}
                for k, r in self._deliveries_pg.items()
                if k != "all" and k is not None and r["n"]
            }
        return {
            g["shipment__driver"]: g
            for g in _pickups_of_delivered(self.period)
            .values("shipment__driver")
            .annotate(busy=Sum(PICKUP_TO_DELIVERY, output_field=DURATION), deliveries=Count("id"))
            .order_by()
        }

    @cached_property
    def deliveries(self) -> dict[str, Any]:
        """Deliveries in the period: on-time counts and ETA error percentiles in one query."""
        if connection.vendor == "postgresql":
            return self._deliveries_pg["all"]
        has_window = Q(delivery_window_end__isnull=False)
        has_eta = Q(predicted_arrival__isnull=False, actual_arrival__isnull=False)
        values, row = percentiles(
            _delivered_in(self.period),
            ETA_ERROR,
            where=has_eta,
            with_window=Count("id", filter=has_window),
            on_time=Count(
                "id", filter=has_window & Q(status_changed_at__lte=F("delivery_window_end"))
            ),
            with_eta=Count("id", filter=has_eta),
        )
        return {**row, "eta": values}

    @cached_property
    def pickup_to_delivery(self) -> dict[str, Any]:
        if connection.vendor == "postgresql":
            return self._deliveries_pg["all"]
        values, row = percentiles(
            _pickups_of_delivered(self.period), PICKUP_TO_DELIVERY, n=Count("id")
        )
        return {**row, "values": values}

    @cached_property
    def failed_groups(self) -> list[dict[str, Any]]:
        return list(
            ShipmentEvent.objects.filter(
                kind=ShipmentEvent.Kind.STATUS,
                status=Status.FAILED_ATTEMPT,
                created_at__gte=self.period.since,
                created_at__lt=self.period.until,
            )
            .values("note")
            .annotate(n=Count("id"))
            .order_by()
        )

    @cached_property
    def fix_spans(self) -> list[dict[str, Any]]:
        """First and last position report per driver and day."""
        return list(
            LocationFix.objects.filter(
                device_time__gte=self.period.since, device_time__lt=self.period.until
            )
            .annotate(day=_day_trunc("device_time"))
            .values("driver_id", "day")
            .annotate(first=Min("device_time"), last=Max("device_time"))
            .order_by()
        )

    @cached_property
    def act_spans(self) -> list[dict[str, Any]]:
        """First and last status change per driver's user and day (no join to drivers)."""
        return list(
            ShipmentEvent.objects.filter(
                actor_role="driver",
                actor__isnull=False,
                created_at__gte=self.period.since,
                created_at__lt=self.period.until,
            )
            .annotate(day=_day_trunc("created_at"))
            .values("actor_id", "day")
            .annotate(first=Min("created_at"), last=Max("created_at"))
            .order_by()
        )

    def prefetch(self) -> None:
        """Run the independent queries side by side, each on its own connection.

        Only outside a transaction (other connections could not see uncommitted rows) and on
        PostgreSQL; elsewhere every figure is fetched on first use, one after the other."""
        names = ["created_groups", "_deliveries_pg", "failed_groups", "fix_spans", "act_spans"]
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            return

        def fetch(name: str) -> tuple[str, Any]:
            try:
                return name, getattr(Figures(self.period), name)
            finally:
                connections["default"].close()

        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            for name, value in pool.map(fetch, names):
                self.__dict__[name] = value


def _figures(period: Period, figures: Figures | None) -> Figures:
    return figures if figures is not None else Figures(period)


# --- the sections ------------------------------------------------------------------------------


def shipments_per_day(*, period: Period, figures: Figures | None = None) -> Section:
    counts: dict[tuple[date, str], int] = {}
    for g in _figures(period, figures).created_groups:
        key = (g["day"], g["status"])
        counts[key] = counts.get(key, 0) + g["n"]
    present = {status for _, status in counts}
    statuses = [s for s in Status if s.value in present]
    days = period.days()
    rows = []
    for d in days:
        per_status = [counts.get((d, s.value), 0) for s in statuses]
        rows.append([d.isoformat(), *per_status, sum(per_status)])
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
        summary={"total": sum(counts.values())},
    )


def on_time_rate(*, period: Period, figures: Figures | None = None) -> Section:
    row = _figures(period, figures).deliveries
    delivered, on_time = row["with_window"], row["on_time"]
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


def pickup_to_delivery(*, period: Period, figures: Figures | None = None) -> Section:
    row = _figures(period, figures).pickup_to_delivery
    n = row["n"]
    p50, p90 = _minutes(row["values"][0.5]), _minutes(row["values"][0.9])
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


def _is_captured(g: dict[str, Any]) -> bool:
    if g["payment_state"] == PaymentState.CAPTURED:
        return True
    return g["payment_state"] == PaymentState.ON_DELIVERY and g["status"] == Status.DELIVERED


def revenue(*, period: Period, figures: Figures | None = None) -> Section:
    zero = Decimal("0.00")
    captured: dict[date, Decimal] = {}
    refunded: dict[date, Decimal] = {}
    for g in _figures(period, figures).created_groups:
        amount = g["amount"] or zero
        if _is_captured(g):
            captured[g["day"]] = captured.get(g["day"], zero) + amount
        elif g["payment_state"] == PaymentState.REFUNDED:
            refunded[g["day"]] = refunded.get(g["day"], zero) + amount
    rows = [
        [
            d.isoformat(),
            captured.get(d, zero).quantize(zero),
            refunded.get(d, zero).quantize(zero),
        ]
        for d in period.days()
    ]
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
        summary={
            "captured": sum((r[1] for r in rows), zero),
            "refunded": sum((r[2] for r in rows), zero),
        },
    )


def failed_attempt_reasons(*, period: Period, figures: Figures | None = None) -> Section:
    grouped = _figures(period, figures).failed_groups
    # Drivers give a reason code, optionally followed by ": details"; count by the code.
    counts: dict[str, int] = {}
    for g in grouped:
        code = (g["note"] or "").split(":", 1)[0].strip()
        label = REASON_LABELS.get(code, g["note"] or "(none given)")
        counts[label] = counts.get(label, 0) + g["n"]
    rows = [[label, n] for label, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
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


def driver_utilisation(*, period: Period, figures: Figures | None = None) -> Section:
    """On-duty hours are measured, per driver and day, from their first to their last sign of
    work (a position report or a status change they made); busy hours are pickup-to-delivery
    times of their deliveries."""
    figures = _figures(period, figures)
    fixes, acts, busy = figures.fix_spans, figures.act_spans, figures.busy_by_driver
    users = {g["actor_id"] for g in acts}
    drivers = {
        d.pk: d
        for d in Driver.objects.filter(Q(user_id__in=users) | Q(pk__in=busy)).select_related("user")
    }
    by_user = {d.user_id: d.pk for d in drivers.values()}

    spans: dict[tuple[int, date], tuple[datetime, datetime]] = {}
    groups = [(g["driver_id"], g) for g in fixes]
    groups += [(by_user[g["actor_id"]], g) for g in acts if g["actor_id"] in by_user]
    for driver_id, g in groups:
        old = spans.get((driver_id, g["day"]))
        first, last = g["first"], g["last"]
        if old is not None:
            first, last = min(old[0], first), max(old[1], last)
        spans[(driver_id, g["day"])] = (first, last)
    on_duty: dict[int, timedelta] = {}
    for (driver_id, _day), (first, last) in spans.items():
        on_duty[driver_id] = on_duty.get(driver_id, timedelta()) + (last - first)

    ids = set(on_duty) | set(busy)
    missing = ids - set(drivers)
    if missing:  # drivers seen only through position reports
        drivers.update(
            (d.pk, d) for d in Driver.objects.filter(pk__in=missing).select_related("user")
        )
    names = {pk: str(d) for pk, d in drivers.items()}
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


def eta_accuracy(*, period: Period, figures: Figures | None = None) -> Section:
    row = _figures(period, figures).deliveries
    n = row["with_eta"]
    p50, p90 = _minutes(row["eta"][0.5]), _minutes(row["eta"][0.9])
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


SECTIONS = {
    "per_day": shipments_per_day,
    "on_time": on_time_rate,
    "pickup_to_delivery": pickup_to_delivery,
    "revenue": revenue,
    "failed_reasons": failed_attempt_reasons,
    "drivers": driver_utilisation,
    "eta": eta_accuracy,
}


def analytics_report(*, period: Period) -> list[Section]:
    figures = Figures(period)
    figures.prefetch()
    return [section(period=period, figures=figures) for section in SECTIONS.values()]


def analytics_section(*, period: Period, key: str) -> Section | None:
    section = SECTIONS.get(key)
    return None if section is None else section(period=period)
