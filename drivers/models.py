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


# --- Dispatch planning (drivers.planning) -----------------------------------------------------


class PlanRun(models.Model):
    """One run of the planner: what started it, how it went, and what it could not plan (with
    reasons in words), so the dispatch console can show the latest outcome. A background run
    is created `queued` and its uuid is the job id the API returns."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Planned"
        KEPT = "kept", "Failed: current plan kept"

    uuid = models.UUIDField(unique=True, editable=False)
    date = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=40, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    time_budget_s = models.FloatField(default=0)
    solve_time_s = models.FloatField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)
    # [{"tracking_number", "reason"}] and {"shipments": [...], "drivers": [...]}, in words.
    unassigned = models.JSONField(default=list, blank=True)
    excluded = models.JSONField(default=dict, blank=True)
    stats = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["date", "-created_at"], name="plan_run_date_idx")]

    def __str__(self) -> str:
        return f"Plan {self.date} ({self.get_status_display()})"


class Route(models.Model):
    """A driver's ordered stops for one day, as last planned. Re-planning rewrites it."""

    driver = models.ForeignKey(Driver, on_delete=models.CASCADE, related_name="routes")
    date = models.DateField()
    plan_run = models.ForeignKey(
        PlanRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="routes"
    )
    planned_at = models.DateTimeField()
    start_lat = models.FloatField(null=True, blank=True)
    start_lng = models.FloatField(null=True, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    travel_s = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["date", "driver"]
        constraints = [
            models.UniqueConstraint(fields=["driver", "date"], name="route_driver_date_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.driver} {self.date}"


class RouteStop(models.Model):
    class Kind(models.TextChoices):
        PICKUP = "pickup", "Pickup"
        DROPOFF = "dropoff", "Drop-off"

    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="stops")
    position = models.PositiveIntegerField()
    shipment = models.ForeignKey(
        "shipments.Shipment", on_delete=models.CASCADE, related_name="route_stops"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    lat = models.FloatField()
    lng = models.FloatField()
    planned_arrival = models.DateTimeField()
    planned_start = models.DateTimeField()
    planned_departure = models.DateTimeField()
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    # Seconds between the planned service start and the window's end (None: no window).
    slack_s = models.IntegerField(null=True, blank=True)
    # A parcel on board whose window can no longer be met: planned as soon as possible.
    late = models.BooleanField(default=False)
    # Why this stop is on this driver, in words, and the next-best driver when known.
    explanation = models.CharField(max_length=500, blank=True)
    next_best_driver = models.ForeignKey(
        Driver, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    next_best_extra_s = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["route", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["route", "position"], name="route_stop_position_unique"
            ),
            models.UniqueConstraint(
                fields=["shipment", "kind"], name="route_stop_shipment_kind_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.route} #{self.position} {self.kind} {self.shipment_id}"


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
        # The hourly retention purge finds old rows by age.
        indexes = [models.Index(fields=["created_at"], name="replayed_update_created_idx")]

    def __str__(self) -> str:
        return f"{self.driver_id}:{self.client_id} {self.kind} {self.outcome}"
