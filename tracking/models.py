from django.db import models
from django.db.models import Q


class LocationFix(models.Model):
    """One position report from a driver's device. `client_id` is made by the device, so a
    replayed or duplicated fix is recognised and stored once."""

    driver = models.ForeignKey("drivers.Driver", on_delete=models.CASCADE, related_name="fixes")
    shipment = models.ForeignKey(
        "shipments.Shipment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="fixes",
    )
    client_id = models.UUIDField()
    device_time = models.DateTimeField()
    received_at = models.DateTimeField()
    lat = models.FloatField()
    lng = models.FloatField()
    accuracy_m = models.FloatField()
    speed_mps = models.FloatField(null=True, blank=True)
    heading = models.FloatField(null=True, blank=True)
    # An implausible jump from the previous fix: kept for the record, never shown as position.
    flagged = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["driver", "-device_time"], name="fix_latest_per_driver_idx"),
            models.Index(fields=["shipment", "device_time"], name="fix_history_per_shipment_idx"),
            models.Index(fields=["received_at"], name="fix_received_at_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["driver", "client_id"], name="fix_client_id_unique"),
            models.CheckConstraint(condition=Q(lat__gte=-90, lat__lte=90), name="fix_lat_range"),
            models.CheckConstraint(condition=Q(lng__gte=-180, lng__lte=180), name="fix_lng_range"),
            models.CheckConstraint(condition=Q(accuracy_m__gte=0), name="fix_accuracy_nonnegative"),
            models.CheckConstraint(
                condition=Q(speed_mps__isnull=True) | Q(speed_mps__gte=0),
                name="fix_speed_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(heading__isnull=True) | Q(heading__gte=0, heading__lt=360),
                name="fix_heading_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.driver_id} @ {self.lat:.5f},{self.lng:.5f} {self.device_time:%H:%M:%S}"
