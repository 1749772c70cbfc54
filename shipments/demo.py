"""Demo data: a small city's business day in Ghent. Every shipment is moved through the real
lifecycle service, so timelines, versions and seqs are exactly what production would have.

Idempotent: users are found by email, shipments by (customer, reference); what exists is kept.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from drivers.models import Driver, Vehicle
from drivers.services import failed_attempt_reason
from dropmate.accounts.models import Role, User
from shipments import services
from shipments.lifecycle import Status
from shipments.models import PaymentState, PricingRule, Shipment
from shipments.pricing import shipment_quote

# Published in the README on purpose; seed_demo refuses production configurations.
DEMO_PASSWORD = "dropmate-demo"  # noqa: S105
CITY = "Ghent"
CENTRE = (51.0543, 3.7174)

USERS = [
    ("admin@dropmate.local", "Ada", "Admin", Role.ADMIN, "+32470000001"),
    ("dispatch@dropmate.local", "Dora", "Dispatcher", Role.DISPATCHER, "+32470000002"),
    ("alice@example.com", "Alice", "Flowers", Role.CUSTOMER, "+32470000011"),
    ("bob@example.com", "Bob", "Café", Role.CUSTOMER, "+32470000012"),
    ("dan@dropmate.local", "Dan", "Driver", Role.DRIVER, "+32470000021"),
    ("erin@dropmate.local", "Erin", "Rider", Role.DRIVER, "+32470000022"),
    ("farid@dropmate.local", "Farid", "Vanman", Role.DRIVER, "+32470000023"),
]
VEHICLES = {
    "dan@dropmate.local": ("Cargo bike 1", Vehicle.Kind.CARGO_BIKE, "GNT-CB-01", "80"),
    "erin@dropmate.local": ("Scooter 1", Vehicle.Kind.SCOOTER, "1-SCT-001", "40"),
    "farid@dropmate.local": ("Van 1", Vehicle.Kind.VAN, "1-VAN-001", "800"),
}
STREETS = [
    ("Veldstraat 12", "9000", (51.0520, 3.7215)),
    ("Korenmarkt 1", "9000", (51.0546, 3.7207)),
    ("Overpoortstraat 40", "9000", (51.0405, 3.7262)),
    ("Dampoortstraat 5", "9000", (51.0580, 3.7405)),
    ("Sint-Pietersnieuwstraat 33", "9000", (51.0447, 3.7267)),
    ("Kortrijksesteenweg 120", "9000", (51.0382, 3.7073)),
    ("Brugsepoortstraat 8", "9000", (51.0566, 3.7020)),
    ("Vlaanderenstraat 70", "9000", (51.0510, 3.7298)),
    ("Coupure Links 200", "9000", (51.0540, 3.7110)),
    ("Antwerpsesteenweg 50", "9040", (51.0652, 3.7454)),
    ("Sleepstraat 15", "9000", (51.0622, 3.7235)),
    ("Kouter 7", "9000", (51.0500, 3.7235)),
]
# (reference, customer, final status, service level): at least one shipment in every status.
SHIPMENTS = [
    ("DEMO-01", "alice@example.com", Status.DRAFT, "standard"),
    ("DEMO-02", "alice@example.com", Status.AWAITING_PAYMENT, "standard"),
    ("DEMO-03", "bob@example.com", Status.PENDING_REVIEW, "express"),
    ("DEMO-04", "alice@example.com", Status.PENDING_REVIEW, "same_day"),
    ("DEMO-05", "bob@example.com", Status.ACCEPTED, "standard"),
    ("DEMO-06", "alice@example.com", Status.ACCEPTED, "express"),
    ("DEMO-07", "bob@example.com", Status.REJECTED, "standard"),
    ("DEMO-08", "alice@example.com", Status.ASSIGNED, "standard"),
    ("DEMO-09", "bob@example.com", Status.PICKED_UP, "express"),
    ("DEMO-10", "alice@example.com", Status.IN_TRANSIT, "standard"),
    ("DEMO-11", "bob@example.com", Status.OUT_FOR_DELIVERY, "same_day"),
    ("DEMO-12", "alice@example.com", Status.OUT_FOR_DELIVERY, "standard"),
    ("DEMO-13", "bob@example.com", Status.DELIVERED, "standard"),
    ("DEMO-14", "alice@example.com", Status.DELIVERED, "express"),
    ("DEMO-15", "bob@example.com", Status.FAILED_ATTEMPT, "standard"),
    ("DEMO-16", "alice@example.com", Status.RETURNED, "standard"),
    ("DEMO-17", "bob@example.com", Status.CANCELLED, "standard"),
]
# The path of driver moves from `assigned` to each status on the road.
ROAD = [Status.PICKED_UP, Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY]


@dataclass
class DemoSummary:
    users_created: int = 0
    shipments_created: int = 0
    logins: list[tuple[str, str]] = field(default_factory=list)


def _user(email: str, first: str, last: str, role: str, phone: str) -> tuple[User, bool]:
    user = User.objects.filter(email=email).first()
    if user:
        return user, False
    is_admin = role == Role.ADMIN
    user = User.objects.create_user(
        email=email,
        password=DEMO_PASSWORD,
        first_name=first,
        last_name=last,
        role=role,
        phone=phone,
        notify_sms=role == Role.CUSTOMER,
        is_staff=role in (Role.ADMIN, Role.DISPATCHER),
        is_superuser=is_admin,
    )
    return user, True


def _driver(user: User, rng: random.Random) -> Driver:
    name, kind, plate, capacity = VEHICLES[user.email]
    vehicle, _ = Vehicle.objects.get_or_create(
        plate=plate, defaults={"name": name, "kind": kind, "capacity_kg": Decimal(capacity)}
    )
    driver, created = Driver.objects.get_or_create(user=user, defaults={"vehicle": vehicle})
    if created:
        lat, lng = CENTRE[0] + rng.uniform(-0.01, 0.01), CENTRE[1] + rng.uniform(-0.015, 0.015)
        driver.home_lat, driver.home_lng = lat, lng
        driver.on_duty = user.email != "farid@dropmate.local"
        driver.on_duty_since = timezone.now() - timedelta(hours=2) if driver.on_duty else None
        driver.last_lat, driver.last_lng = (lat, lng) if driver.on_duty else (None, None)
        driver.last_fix_at = timezone.now() if driver.on_duty else None
        driver.save()
    return driver


def _walk(shipment: Shipment, target: str, *, staff: User, driver: Driver) -> None:
    """Move a new draft to `target` through the lifecycle service, as real people would."""

    def go(to: str, actor: User | None, **kw) -> None:
        nonlocal shipment
        shipment = services.shipment_transition(shipment=shipment, to=to, actor=actor, **kw)

    customer = shipment.customer
    if target == Status.DRAFT:
        return
    if target == Status.CANCELLED:
        go(Status.CANCELLED, customer, reason="Changed my mind")
        return
    go(Status.AWAITING_PAYMENT, customer)
    if target == Status.AWAITING_PAYMENT:
        return
    Shipment.objects.filter(pk=shipment.pk).update(payment_state=PaymentState.ON_DELIVERY)
    go(Status.PENDING_REVIEW, None, data={"payment": "on_delivery"})
    if target == Status.PENDING_REVIEW:
        return
    if target == Status.REJECTED:
        go(Status.REJECTED, staff, reason="Outside our delivery area today")
        return
    go(Status.ACCEPTED, staff)
    if target == Status.ACCEPTED:
        return
    go(Status.ASSIGNED, staff, driver=driver)
    if target == Status.ASSIGNED:
        return
    driver_user = driver.user
    for step in ROAD:
        go(step, driver_user)
        if target == step:
            return
    if target == Status.DELIVERED:
        go(Status.DELIVERED, driver_user)
        return
    go(
        Status.FAILED_ATTEMPT,
        driver_user,
        reason=failed_attempt_reason(reason="not_home", note="nobody answered the bell"),
    )
    if target == Status.RETURNED:
        go(Status.RETURNED, driver_user)


def demo_seed(*, progress: Callable[[str], None] = lambda _: None, seed: int = 7) -> DemoSummary:
    rng = random.Random(seed)
    summary = DemoSummary()
    with transaction.atomic():
        if not PricingRule.objects.filter(active=True).exists():
            PricingRule.objects.create(name="Ghent city rates", active=True)
        users: dict[str, User] = {}
        for email, first, last, role, phone in USERS:
            users[email], created = _user(email, first, last, role, phone)
            summary.users_created += created
            summary.logins.append((role, email))
        drivers = [_driver(users[e], rng) for e in VEHICLES]
    progress(f"Users: {summary.users_created} created, {len(USERS) - summary.users_created} kept")

    now = timezone.now()
    working = [d for d in drivers if d.on_duty] or drivers
    staff = users["dispatch@dropmate.local"]
    for index, (reference, email, target, level) in enumerate(SHIPMENTS, start=1):
        customer = users[email]
        if Shipment.objects.filter(customer=customer, reference=reference).exists():
            continue
        (p_street, p_code, p_point), (d_street, d_code, d_point) = rng.sample(STREETS, 2)
        start = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=rng.randint(1, 4))
        with transaction.atomic():
            shipment = services.shipment_create_draft(
                customer=customer,
                reference=reference,
                pickup_address=p_street,
                pickup_city=CITY,
                pickup_postcode=p_code,
                pickup_lat=p_point[0],
                pickup_lng=p_point[1],
                pickup_contact_name=customer.get_full_name(),
                pickup_contact_phone=customer.phone,
                dropoff_address=d_street,
                dropoff_city=CITY,
                dropoff_postcode=d_code,
                dropoff_lat=d_point[0],
                dropoff_lng=d_point[1],
                dropoff_contact_name=rng.choice(["Marie", "Tom", "Lotte", "Yusuf", "Sara"]),
                dropoff_contact_phone=f"+3247{rng.randint(1000000, 9999999)}",
                size_class=rng.choice(["small", "medium", "large"]),
                weight_kg=Decimal(rng.randint(5, 120)) / 10,
                description=rng.choice(["Flowers", "Coffee beans", "Documents", "Cake", "Books"]),
                service_level=level,
                pickup_window_start=start,
                pickup_window_end=start + timedelta(hours=1),
                delivery_window_start=start + timedelta(hours=1),
                delivery_window_end=start + timedelta(hours=3),
            )
            shipment_quote(shipment=shipment, actor=customer)
            _walk(shipment, target, staff=staff, driver=working[index % len(working)])
        summary.shipments_created += 1
        progress(f"[{index}/{len(SHIPMENTS)}] {reference} → {target}")
    return summary
