"""A small city for planning tests. Points are given in km east/north of Ghent's centre; the
day is always the day after tomorrow, 08:00–20:00, so a test never depends on the hour it runs
at: not even across midnight, when "tomorrow" would become today, which has a plan by then, and
accepting an order would start an automatic re-plan of it."""

import datetime as dt
import math
from decimal import Decimal

import pytest
from django.utils import timezone

from drivers.models import Driver
from drivers.planning import build, checker, services
from drivers.planning.build import ON_BOARD
from shipments import services as shipment_services
from shipments.lifecycle import Status
from shipments.models import Shipment
from tests.factories import DriverFactory, VehicleFactory, make_shipment

LAT0, LNG0 = 51.05, 3.72


def point(east_km: float, north_km: float) -> tuple[float, float]:
    return (
        LAT0 + north_km / 111.2,
        LNG0 + east_km / (111.2 * math.cos(math.radians(LAT0))),
    )


class City:
    def __init__(self, *, customer, staff):
        self.customer = customer
        self.staff = staff
        self.day = timezone.localdate() + dt.timedelta(days=2)
        self.count = 0

    def at(self, hours: float) -> dt.datetime:
        base = timezone.make_aware(dt.datetime.combine(self.day, dt.time(0, 0)))
        return base + dt.timedelta(hours=hours)

    def driver(self, east=0.0, north=0.0, *, kg="500", parcels=20, shift_end=None, **kw) -> Driver:
        lat, lng = point(east, north)
        self.count += 1
        return DriverFactory(
            user__first_name=kw.pop("name", f"Driver{self.count}"),
            vehicle=VehicleFactory(capacity_kg=Decimal(kg), capacity_parcels=parcels),
            home_lat=lat,
            home_lng=lng,
            shift_end=shift_end,
            **kw,
        )

    def order(
        self,
        pickup=(0.0, 1.0),
        dropoff=(1.0, 0.0),
        *,
        pickup_hours=(9, 11),
        delivery_hours=(9, 13),
        kg="2",
        status=Status.ACCEPTED,
        driver=None,
        **fields,
    ) -> Shipment:
        plat, plng = point(*pickup)
        dlat, dlng = point(*dropoff)
        windows = {}
        if pickup_hours:
            windows |= {
                "pickup_window_start": self.at(pickup_hours[0]),
                "pickup_window_end": self.at(pickup_hours[1]),
            }
        else:
            windows |= {"pickup_window_start": None, "pickup_window_end": None}
        if delivery_hours:
            windows |= {
                "delivery_window_start": self.at(delivery_hours[0]),
                "delivery_window_end": self.at(delivery_hours[1]),
            }
        else:
            windows |= {"delivery_window_start": None, "delivery_window_end": None}
        values = {
            "pickup_lat": plat,
            "pickup_lng": plng,
            "dropoff_lat": dlat,
            "dropoff_lng": dlng,
            "weight_kg": Decimal(kg),
            **windows,
            **fields,
        }
        return make_shipment(
            customer=self.customer,
            status=status,
            driver=driver or self.spare_driver(),
            staff=self.staff,
            **values,
        )

    def spare_driver(self) -> Driver:
        """make_shipment needs a driver even when the shipment never reaches one."""
        if not hasattr(self, "_spare"):
            self._spare = DriverFactory(on_duty=False)
        return self._spare

    def pin(self, shipment: Shipment) -> Shipment:
        Shipment.objects.filter(pk=shipment.pk).update(pinned=True)
        shipment.refresh_from_db()
        return shipment

    def plan(self, *, budget=2.0, hours=7.0, **kw):
        """Plan the day as seen at `hours` o'clock, then run our checker on what was written."""
        bound = {
            s.pk: s.driver_id
            for s in Shipment.objects.filter(status__in=ON_BOARD).exclude(driver=None)
        }
        pinned = {
            s.pk: s.driver_id for s in Shipment.objects.filter(pinned=True, status=Status.ASSIGNED)
        }
        result = services.plan_routes(
            date=self.day, time_budget_s=budget, now=self.at(hours), actor=None, **kw
        )
        problems = checker.check_day(self.day, pinned=pinned, started=bound)
        assert problems == [], problems
        return result

    def stops(self, driver: Driver) -> list[tuple[str, str]]:
        from drivers.planning.selectors import driver_route_order

        return [
            (s.shipment.tracking_number, s.kind)
            for s in driver_route_order(driver=driver, date=self.day)
        ]


def advance(shipment: Shipment, to: str) -> Shipment:
    """Move an assigned shipment along as its driver would."""
    path = [Status.PICKED_UP, Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY]
    shipment.refresh_from_db()
    for status in path[: path.index(to) + 1]:
        shipment = shipment_services.shipment_transition(
            shipment=shipment, to=status, actor=shipment.driver.user
        )
    return shipment


def today_at(hour: int, minute: int = 0) -> dt.datetime:
    """Today (in TIME_ZONE) at a fixed local time."""
    return timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(hour, minute)))


class _PlannerClock:
    """django.utils.timezone as the planner's snapshot sees it, with now() fixed."""

    def __init__(self, moment: dt.datetime):
        self.moment = moment

    def now(self) -> dt.datetime:
        return self.moment

    def __getattr__(self, name: str):
        return getattr(timezone, name)


@pytest.fixture
def planner_clock(monkeypatch):
    """Pin the clock a plan is made at where no `now=` can reach the planner (a view, an
    admin action, a re-plan task): `planner_clock(today_at(9))`. Only the snapshot's "now"
    is fixed (where the day's work may start); the rest of the code keeps the real clock."""

    def pin(moment: dt.datetime) -> dt.datetime:
        monkeypatch.setattr(build, "timezone", _PlannerClock(moment))
        return moment

    return pin


@pytest.fixture
def city(alice, dora):
    return City(customer=alice, staff=dora)


@pytest.fixture(autouse=True)
def _no_replan_left_queued():
    """The "re-plan queued" marker lives in the cache (Redis in CI), which outlives a test."""
    from django.core.cache import cache

    from drivers.planning.triggers import queued_key

    cache.delete(queued_key(None))
    yield
    cache.delete(queued_key(None))
