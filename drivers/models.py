from django.conf import settings
from django.db import models
from django.db.models import Q


class Vehicle(models.Model):
    class Kind(models.TextChoices):
        BIKE = "bike", "Bicycle"
        CARGO_BIKE = "cargo_bike", "Cargo bike"
        SCOOTER = "scooter", "Scooter"
        CAR = "car", "Car"
        VAN = "van", "Van"

    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.VAN)
    plate = models.CharField(max_length=20, unique=True)
    capacity_kg = models.DecimalField(max_digits=7, decimal_places=2)
    capacity_parcels = models.PositiveIntegerField(default=20)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(capacity_kg__gt=0), name="vehicle_capacity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.plate})"


class Driver(models.Model):
    """A user who drives. The latest position is denormalised here for fast lists; the full
    history lives in tracking.LocationFix."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="driver"
    )
    vehicle = models.OneToOneField(
        Vehicle, null=True, blank=True, on_delete=models.SET_NULL, related_name="driver"
    )
    on_duty = models.BooleanField(default=False)
    on_duty_since = models.DateTimeField(null=True, blank=True)
    shift_end = models.TimeField(null=True, blank=True)
    home_lat = models.FloatField(null=True, blank=True)
    home_lng = models.FloatField(null=True, blank=True)
    last_lat = models.FloatField(null=True, blank=True)
    last_lng = models.FloatField(null=True, blank=True)
    last_fix_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user__first_name", "user__email"]
        indexes = [models.Index(fields=["on_duty"], name="driver_on_duty_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(last_lat__isnull=True) | Q(last_lat__gte=-90, last_lat__lte=90),
                name="driver_last_lat_range",
            ),
            models.CheckConstraint(
                condition=Q(last_lng__isnull=True) | Q(last_lng__gte=-180, last_lng__lte=180),
                name="driver_last_lng_range",
            ),
        ]

    def __str__(self) -> str:
        return str(self.user)

    @property
    def first_name(self) -> str:
        return self.user.first_name or "Your driver"


class DriverMessage(models.Model):
    """A short message from dispatch, shown in the driver app."""

    driver = models.ForeignKey(Driver, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["driver", "-created_at"], name="driver_message_idx")]

    def __str__(self) -> str:
        return f"To {self.driver}: {self.body[:40]}"


class ReplayedUpdate(models.Model):
    """An update the driver app queued (often offline) and the server applied, keyed by the
    device's id for it: a replayed, duplicated or reordered batch finds the row and gets the
    stored result back instead of applying anything twice."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        CONFLICT = "conflict", "Conflict"
        REJECTED = "rejected", "Rejected"

    driver = models.ForeignKey(Driver, on_delete=models.CASCADE, related_name="replayed_updates")
    client_id = models.UUIDField()
    kind = models.CharField(max_length=16)
    shipment = models.ForeignKey(
        "shipments.Shipment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    device_time = models.DateTimeField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    result = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["driver", "client_id"], name="replayed_update_client_id_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.driver_id}:{self.client_id} {self.kind} {self.outcome}"
