from django.contrib import admin

from shipments.models import PaymentEvent, ProofOfDelivery, Shipment, ShipmentEvent


class ShipmentEventInline(admin.TabularInline):
    model = ShipmentEvent
    extra = 0
    can_delete = False
    fields = ("seq", "created_at", "kind", "from_status", "status", "actor", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = (
        "tracking_number",
        "status",
        "payment_state",
        "service_level",
        "customer",
        "driver",
        "delivery_window_start",
        "price",
        "created_at",
    )
    list_filter = ("status", "payment_state", "service_level", "created_at")
    search_fields = (
        "tracking_number",
        "reference",
        "customer__email",
        "customer__phone",
        "pickup_address",
        "dropoff_address",
    )
    readonly_fields = (
        "tracking_number",
        "status",
        "version",
        "last_seq",
        "price",
        "price_breakdown",
        "payment_state",
        "driver",
        "created_at",
        "updated_at",
        "status_changed_at",
    )
    list_select_related = ("customer", "driver__user")
    inlines = [ShipmentEventInline]
    date_hierarchy = "created_at"


@admin.register(ShipmentEvent)
class ShipmentEventAdmin(admin.ModelAdmin):
    list_display = ("shipment", "seq", "kind", "status", "actor", "created_at")
    list_filter = ("kind", "status")
    search_fields = ("shipment__tracking_number",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ProofOfDelivery)
class ProofOfDeliveryAdmin(admin.ModelAdmin):
    list_display = ("shipment", "recipient_name", "captured_at")
    search_fields = ("shipment__tracking_number", "recipient_name")


@admin.register(PaymentEvent)
class PaymentEventAdmin(admin.ModelAdmin):
    """Stripe webhook events as received: read-only, for support and audits."""

    list_display = ("stripe_event_id", "type", "shipment", "outcome", "created", "received_at")
    list_filter = ("type", "outcome")
    search_fields = ("stripe_event_id", "shipment__tracking_number")
    readonly_fields = list_display

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
