from django.contrib import admin

from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("event_key", "recipient", "channel", "status", "attempts", "created_at")
    list_filter = ("status", "channel", "event_key")
    search_fields = ("recipient__email", "idempotency_key", "shipment__tracking_number")
    readonly_fields = ("idempotency_key", "attempts", "provider_id", "last_error", "sent_at")
