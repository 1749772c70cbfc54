from django.conf import settings
from django.db import models
from django.db.models import Q


class Notification(models.Model):
    """The outbox: one message to one recipient on one channel. Written in the transaction of
    the event that causes it; sent by a Celery task after commit, claimed with a conditional
    update so that only one worker ever sends it."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        HELD = "held", "Held (quiet hours)"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    shipment = models.ForeignKey(
        "shipments.Shipment",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    event_key = models.CharField(max_length=64)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    provider_id = models.CharField(max_length=128, blank=True)
    last_error = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    send_after = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The message as rendered when the row was written (what the admin shows and the task sends).
    to_address = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    language = models.CharField(max_length=8, blank=True)
    # Urgent messages ignore quiet hours.
    urgent = models.BooleanField(default=False)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # The row this one replaces on the other channel after it failed for good.
    fallback_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="fallbacks"
    )
    # An admin "resend": a new row with a new key, pointing at the original.
    resent_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="resends"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "updated_at"], name="notification_sweep_idx"),
            models.Index(fields=["recipient", "-created_at"], name="notification_recipient_idx"),
            models.Index(
                fields=["recipient", "channel", "-created_at"], name="notification_rcpt_chan_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=["email", "sms"]), name="notification_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "held", "sending", "sent", "failed", "skipped"]),
                name="notification_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_key} → {self.recipient_id} ({self.channel})"
