from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from drivers.models import Driver, Vehicle
from dropmate.accounts.models import Role, User
from shipments import services
from shipments.lifecycle import Status
from shipments.models import Shipment

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = Role.CUSTOMER
    phone = factory.Sequence(lambda n: f"+3247{n:07d}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class VehicleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vehicle

    name = factory.Sequence(lambda n: f"Van {n}")
    plate = factory.Sequence(lambda n: f"1-TST-{n:03d}")
    capacity_kg = Decimal("500")


class DriverFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Driver

    user = factory.SubFactory(UserFactory, role=Role.DRIVER)
    vehicle = factory.SubFactory(VehicleFactory)
    on_duty = True


def draft_fields(**overrides) -> dict:
    start = timezone.now() + timedelta(hours=2)
    fields = {
        "pickup_address": "Veldstraat 12",
        "pickup_city": "Ghent",
        "pickup_postcode": "9000",
        "pickup_lat": 51.0520,
        "pickup_lng": 3.7215,
        "pickup_contact_name": "Pat Pickup",
        "pickup_contact_phone": "+32470111111",
        "dropoff_address": "Kouter 7",
        "dropoff_city": "Ghent",
        "dropoff_postcode": "9000",
        "dropoff_lat": 51.0500,
        "dropoff_lng": 3.7235,
        "dropoff_contact_name": "Dee Dropoff",
        "dropoff_contact_phone": "+32470222222",
        "size_class": "small",
        "weight_kg": Decimal("2.50"),
        "description": "Flowers",
        "service_level": "standard",
        "pickup_window_start": start,
        "pickup_window_end": start + timedelta(hours=1),
        "delivery_window_start": start + timedelta(hours=1),
        "delivery_window_end": start + timedelta(hours=3),
    }
    fields.update(overrides)
    return fields


# The actor and arguments for each step from a draft; `make_shipment` walks this path.
PATH: list[tuple[str, str, dict]] = [
    (Status.AWAITING_PAYMENT, "customer", {}),
    (Status.PENDING_REVIEW, "system", {}),
    (Status.ACCEPTED, "staff", {}),
    (Status.ASSIGNED, "staff", {"driver": True}),
    (Status.PICKED_UP, "driver", {}),
    (Status.IN_TRANSIT, "driver", {}),
    (Status.OUT_FOR_DELIVERY, "driver", {}),
]
# Where each status branches off the main path.
BRANCH = {
    Status.REJECTED: (Status.PENDING_REVIEW, "staff", {"reason": "Too far"}),
    Status.CANCELLED: (Status.DRAFT, "customer", {}),
    Status.DELIVERED: (Status.OUT_FOR_DELIVERY, "driver", {}),
    Status.FAILED_ATTEMPT: (Status.OUT_FOR_DELIVERY, "driver", {"reason": "not_home"}),
    Status.RETURNED: (Status.FAILED_ATTEMPT, "driver", {}),
}


def make_shipment(
    *,
    customer: User,
    status: str = Status.DRAFT,
    driver: Driver | None = None,
    staff: User | None = None,
    **fields,
) -> Shipment:
    """A shipment in `status`, reached through the lifecycle service (no shortcuts)."""
    staff = staff or UserFactory(role=Role.DISPATCHER, is_staff=True)
    driver = driver or DriverFactory()
    actors = {"customer": customer, "system": None, "staff": staff, "driver": driver.user}

    def step(shipment: Shipment, to: str, who: str, kw: dict) -> Shipment:
        kwargs = dict(kw)
        if kwargs.pop("driver", False):
            kwargs["driver"] = driver
        return services.shipment_transition(shipment=shipment, to=to, actor=actors[who], **kwargs)

    if status in BRANCH:
        base, who, kw = BRANCH[status]
        shipment = make_shipment(
            customer=customer, status=base, driver=driver, staff=staff, **fields
        )
        return step(shipment, status, who, kw)
    shipment = services.shipment_create_draft(customer=customer, **draft_fields(**fields))
    if status == Status.DRAFT:
        return shipment
    for to, who, kw in PATH:
        shipment = step(shipment, to, who, kw)
        if to == status:
            return shipment
    raise ValueError(f"make_shipment cannot reach {status}")
