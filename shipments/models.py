import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from dropmate.lib.validators import e164_validator
from shipments import tracking_numbers
from shipments.lifecycle import Status


class ServiceLevel(models.TextChoices):
    STANDARD = "standard", "Standard"
    EXPRESS = "express", "Express"
    SAME_DAY = "same_day", "Same day"


class SizeClass(models.TextChoices):
    SMALL = "small", "Small (fits a shoebox)"
    MEDIUM = "medium", "Medium (fits a backpack)"
    LARGE = "large", "Large (two hands)"
    XLARGE = "xlarge", "Extra large (trolley)"


class PaymentMethod(models.TextChoices):
    CARD = "card", "Card"
    ON_DELIVERY = "on_delivery", "Pay on delivery"


class PaymentState(models.TextChoices):
    NONE = "none", "Not started"
    PENDING = "pending", "Pending"
    AUTHORIZED = "authorized", "Authorised"
    CAPTURED = "captured", "Captured"
    CANCELED = "canceled", "Authorisation released"
    REFUNDED = "refunded", "Refunded"
    FAILED = "failed", "Failed"
    ON_DELIVERY = "on_delivery", "Pay on delivery"


def _range(field: str, low: float, high: float, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__isnull": True})
        | Q(**{f"{field}__gte": low, f"{field}__lte": high}),
        name=name,
    )


def _ordered(start: str, end: str, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{start}__isnull": True})
        | Q(**{f"{end}__isnull": True})
        | Q(**{f"{end}__gt": F(start)}),
        name=name,
    )


class Shipment(models.Model):
    """One parcel from a pickup to a drop-off. `status` is written only by
    `shipments.services.shipment_transition`; `version` rises with every change to it."""

    tracking_number = models.CharField(
        max_length=24, unique=True, default=tracking_numbers.generate, editable=False
    )
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="shipments"
    )
    reference = models.CharField("your reference", max_length=64, blank=True)

    pickup_address = models.CharField(max_length=200, blank=True)
    pickup_address2 = models.CharField(max_length=200, blank=True)
    pickup_city = models.CharField(max_length=100, blank=True)
    pickup_postcode = models.CharField(max_length=16, blank=True)
    pickup_lat = models.FloatField(null=True, blank=True)
    pickup_lng = models.FloatField(null=True, blank=True)
    pickup_contact_name = models.CharField(max_length=100, blank=True)
    pickup_contact_phone = models.CharField(max_length=16, blank=True, validators=[e164_validator])
    pickup_instructions = models.CharField(max_length=500, blank=True)

    dropoff_address = models.CharField(max_length=200, blank=True)
    dropoff_address2 = models.CharField(max_length=200, blank=True)
    dropoff_city = models.CharField(max_length=100, blank=True)
    dropoff_postcode = models.CharField(max_length=16, blank=True)
    dropoff_lat = models.FloatField(null=True, blank=True)
    dropoff_lng = models.FloatField(null=True, blank=True)
    dropoff_contact_name = models.CharField(max_length=100, blank=True)
    dropoff_contact_phone = models.CharField(max_length=16, blank=True, validators=[e164_validator])
    dropoff_instructions = models.CharField(max_length=500, blank=True)

    size_class = models.CharField(max_length=8, choices=SizeClass.choices, blank=True)
    weight_kg = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    length_cm = models.PositiveIntegerField(null=True, blank=True)
    width_cm = models.PositiveIntegerField(null=True, blank=True)
    height_cm = models.PositiveIntegerField(null=True, blank=True)
    declared_value = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("0.00"), blank=True
    )
    description = models.CharField(max_length=200, blank=True)

    service_level = models.CharField(
        max_length=16, choices=ServiceLevel.choices, default=ServiceLevel.STANDARD
    )
    pickup_window_start = models.DateTimeField(null=True, blank=True)
    pickup_window_end = models.DateTimeField(null=True, blank=True)
    delivery_window_start = models.DateTimeField(null=True, blank=True)
    delivery_window_end = models.DateTimeField(null=True, blank=True)

    price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, default="EUR")
    price_breakdown = models.JSONField(default=list, blank=True)
    quoted_at = models.DateTimeField(null=True, blank=True)
    payment_state = models.CharField(
        max_length=16, choices=PaymentState.choices, default=PaymentState.NONE
    )
    payment_method = models.CharField(
        max_length=16, choices=PaymentMethod.choices, blank=True, default=""
    )
    # The processor's id for this payment (a Stripe PaymentIntent id); unique when set.
    payment_reference = models.CharField(max_length=100, blank=True, default="")
    # When the newest processor event we applied was created: older events change nothing.
    payment_updated_at = models.DateTimeField(null=True, blank=True)

    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.DRAFT, editable=False
    )
    driver = models.ForeignKey(
        "drivers.Driver",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="shipments",
    )
    # A dispatcher pinned this shipment to its driver: planning never moves it elsewhere.
    pinned = models.BooleanField(default=False)
    # Proof of delivery and handover PIN (the PIN is shown to the customer, stored hashed).
    requires_pod = models.BooleanField(default=False)
    handover_pin_hash = models.CharField(max_length=128, blank=True, default="", editable=False)
    pin_failures = models.PositiveSmallIntegerField(default=0, editable=False)
    pin_locked = models.BooleanField(default=False)
    # Live tracking: predicted vs actual arrival at the drop-off, and the "nearby" trigger.
    predicted_arrival = models.DateTimeField(null=True, blank=True, editable=False)
    actual_arrival = models.DateTimeField(null=True, blank=True, editable=False)
    nearby_notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    # The seq of the newest ShipmentEvent; the next event takes last_seq + 1 under the row lock.
    last_seq = models.PositiveIntegerField(default=0, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    status_changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="shipment_customer_idx"),
            models.Index(fields=["status", "-created_at"], name="shipment_status_idx"),
            models.Index(fields=["driver", "status"], name="shipment_driver_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in Status]), name="shipment_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(weight_kg__isnull=True) | Q(weight_kg__gt=0),
                name="shipment_weight_positive",
            ),
            models.CheckConstraint(
                condition=Q(declared_value__gte=0), name="shipment_declared_value_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(price__isnull=True) | Q(price__gte=0), name="shipment_price_nonnegative"
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="shipment_version_positive"),
            models.UniqueConstraint(
                fields=["payment_reference"],
                condition=~Q(payment_reference=""),
                name="shipment_payment_reference_unique",
            ),
            _range("pickup_lat", -90, 90, "shipment_pickup_lat_range"),
            _range("pickup_lng", -180, 180, "shipment_pickup_lng_range"),
            _range("dropoff_lat", -90, 90, "shipment_dropoff_lat_range"),
            _range("dropoff_lng", -180, 180, "shipment_dropoff_lng_range"),
            _ordered("pickup_window_start", "pickup_window_end", "shipment_pickup_window_ordered"),
            _ordered(
                "delivery_window_start", "delivery_window_end", "shipment_delivery_window_ordered"
            ),
            # A shipment on the road always has a driver.
            models.CheckConstraint(
                condition=~Q(
                    status__in=[
                        Status.ASSIGNED,
                        Status.PICKED_UP,
                        Status.IN_TRANSIT,
                        Status.OUT_FOR_DELIVERY,
                        Status.FAILED_ATTEMPT,
                    ]
                )
                | Q(driver__isnull=False),
                name="shipment_assigned_has_driver",
            ),
        ]

    def __str__(self) -> str:
        return self.tracking_number

    @property
    def pickup_point(self) -> tuple[float, float] | None:
        if self.pickup_lat is None or self.pickup_lng is None:
            return None
        return (self.pickup_lat, self.pickup_lng)

    @property
    def dropoff_point(self) -> tuple[float, float] | None:
        if self.dropoff_lat is None or self.dropoff_lng is None:
            return None
        return (self.dropoff_lat, self.dropoff_lng)


class ShipmentEvent(models.Model):
    """The append-only timeline. `seq` is gapless per shipment: 1, 2, 3...; live pages use it
    to catch up after a gap."""

    class Kind(models.TextChoices):
        STATUS = "status", "Status change"
        ASSIGNMENT = "assignment", "Driver assignment"
        PAYMENT = "payment", "Payment"
        NOTE = "note", "Note"

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.STATUS)
    from_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    # The shipment's version right after this event.
    version = models.PositiveIntegerField(default=1)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_role = models.CharField(max_length=16, blank=True)
    note = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    lat = models.FloatField(null=True, blank=True)
    lng = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["shipment", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "seq"], name="shipment_event_seq_unique"),
            models.CheckConstraint(condition=Q(seq__gte=1), name="shipment_event_seq_positive"),
            _range("lat", -90, 90, "shipment_event_lat_range"),
            _range("lng", -180, 180, "shipment_event_lng_range"),
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id}#{self.seq} {self.status}"


def pod_upload_to(instance: "ProofOfDelivery", filename: str) -> str:
    # The server names every object; nothing of the uploaded file name survives.
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"pod/{uuid.uuid4().hex}.{ext}"


class ProofOfDelivery(models.Model):
    shipment = models.OneToOneField(Shipment, on_delete=models.CASCADE, related_name="pod")
    photo = models.ImageField(upload_to=pod_upload_to, blank=True)
    signature = models.ImageField(upload_to=pod_upload_to, blank=True)
    recipient_name = models.CharField(max_length=100, blank=True)
    lat = models.FloatField(null=True, blank=True)
    lng = models.FloatField(null=True, blank=True)
    # Read from the photo's EXIF before it is stripped; shown to staff only.
    photo_gps_lat = models.FloatField(null=True, blank=True)
    photo_gps_lng = models.FloatField(null=True, blank=True)
    captured_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "proofs of delivery"
        constraints = [
            _range("lat", -90, 90, "pod_lat_range"),
            _range("lng", -180, 180, "pod_lng_range"),
        ]

    def __str__(self) -> str:
        return f"POD {self.shipment_id}"


class PricingRule(models.Model):
    """How a price is made. One rule is active; a quote copies what it used into the
    shipment's breakdown, so editing the rule never changes an existing quote."""

    name = models.CharField(max_length=80)
    active = models.BooleanField(default=False)
    currency = models.CharField(max_length=3, default="EUR")
    base_fee = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("4.00"))
    per_km = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("1.20"))
    road_factor = models.DecimalField(max_digits=4, decimal_places=2, default=Decimal("1.30"))
    included_kg = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("5.00"))
    per_kg_over = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("0.50"))
    surcharge_medium = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("1.00"))
    surcharge_large = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("3.00"))
    surcharge_xlarge = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("6.00"))
    multiplier_express = models.DecimalField(
        max_digits=4, decimal_places=2, default=Decimal("1.50")
    )
    multiplier_same_day = models.DecimalField(
        max_digits=4, decimal_places=2, default=Decimal("2.00")
    )
    minimum_fare = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("6.00"))
    rounding_step = models.DecimalField(max_digits=4, decimal_places=2, default=Decimal("0.10"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-active", "-updated_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=Q(active=True), name="pricing_one_active_rule"
            ),
            models.CheckConstraint(
                condition=Q(base_fee__gte=0)
                & Q(per_km__gte=0)
                & Q(per_kg_over__gte=0)
                & Q(minimum_fare__gte=0)
                & Q(road_factor__gte=1)
                & Q(multiplier_express__gte=1)
                & Q(multiplier_same_day__gte=1)
                & Q(rounding_step__gt=0),
                name="pricing_rule_sane",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}{' (active)' if self.active else ''}"


class IdempotencyKey(models.Model):
    """An `Idempotency-Key` a client sent with a booking: the same key and body book once.

    Inserted in the booking's transaction before the shipment is created; the unique
    (user, key) index makes a concurrent duplicate wait and then replay the first result."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # SHA-256 of the canonical JSON body: another body under the same key is refused.
    request_hash = models.CharField(max_length=64)
    shipment = models.ForeignKey(
        Shipment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique"),
        ]
        # The hourly retention purge finds old rows by age.
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_created_idx")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class PaymentEvent(models.Model):
    """A Stripe webhook event we received, recorded once by its id, so a redelivered or
    concurrent duplicate changes nothing. `created` is Stripe's time for the event."""

    stripe_event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    created = models.DateTimeField()
    shipment = models.ForeignKey(
        Shipment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="payment_events",
    )
    # applied, same, stale, out_of_order, amount_mismatch or ignored.
    outcome = models.CharField(max_length=20, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.stripe_event_id} {self.type}"
