"""Reads of planned routes: the driver's job order, and the day's plan for the console."""

import datetime as dt

from django.utils import timezone

from drivers.models import Driver, PlanRun, Route, RouteStop
from shipments.lifecycle import ON_THE_ROAD, TERMINAL, Status

# A pickup is still to do while the shipment waits for it.
_PICKUP_OPEN = {Status.ACCEPTED, Status.ASSIGNED}


def _open(stop: RouteStop, driver_id: int) -> bool:
    shipment = stop.shipment
    if shipment.driver_id != driver_id or shipment.status in TERMINAL:
        return False
    if stop.kind == RouteStop.Kind.PICKUP:
        return shipment.status in _PICKUP_OPEN
    return shipment.status in _PICKUP_OPEN or shipment.status in ON_THE_ROAD


def driver_route_order(*, driver: Driver, date: dt.date | None = None) -> list[RouteStop]:
    """The driver's remaining stops for the day, in planned order (the job list order).
    Stops already done, and shipments no longer the driver's, are left out."""
    day = date or timezone.localdate()
    stops = (
        RouteStop.objects.filter(route__driver=driver, route__date=day)
        .select_related("shipment", "next_best_driver__user")
        .order_by("position")
    )
    return [stop for stop in stops if _open(stop, driver.pk)]


def latest_plan_run(*, date: dt.date | None = None) -> PlanRun | None:
    return PlanRun.objects.filter(date=date or timezone.localdate()).first()


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def stop_view(stop: RouteStop) -> dict:
    return {
        "position": stop.position,
        "tracking_number": stop.shipment.tracking_number,
        "kind": stop.kind,
        "lat": stop.lat,
        "lng": stop.lng,
        "planned_arrival": _iso(stop.planned_arrival),
        "planned_start": _iso(stop.planned_start),
        "window_start": _iso(stop.window_start),
        "window_end": _iso(stop.window_end),
        "slack_s": stop.slack_s,
        "late": stop.late,
        "explanation": stop.explanation,
        "next_best_driver_id": stop.next_best_driver_id,
        "next_best_extra_s": stop.next_best_extra_s,
    }


def route_view(route: Route) -> dict:
    return {
        "driver_id": route.driver_id,
        "driver": route.driver.user.get_full_name() or route.driver.user.email,
        "date": route.date.isoformat(),
        "planned_at": _iso(route.planned_at),
        "starts_at": _iso(route.starts_at),
        "ends_at": _iso(route.ends_at),
        "travel_s": route.travel_s,
        "stops": [stop_view(stop) for stop in route.stops.all()],
    }


def plan_routes_view(*, date: dt.date | None = None) -> list[dict]:
    """Every route of the day with its stops and explanations (dispatch console, API)."""
    routes = (
        Route.objects.filter(date=date or timezone.localdate())
        .select_related("driver__user")
        .prefetch_related("stops__shipment")
        .order_by("driver_id")
    )
    return [route_view(route) for route in routes]
