from django.contrib import admin

from tracking.models import LocationFix


@admin.register(LocationFix)
class LocationFixAdmin(admin.ModelAdmin):
    """Location history: read-only for everyone, it is evidence."""

    list_display = (
        "driver",
        "shipment",
        "device_time",
        "received_at",
        "lat",
        "lng",
        "accuracy_m",
        "speed_mps",
        "flagged",
    )
    list_filter = ("flagged", "device_time", ("driver", admin.RelatedOnlyFieldListFilter))
    search_fields = ("driver__user__email", "shipment__tracking_number")
    list_select_related = ("driver__user", "shipment")
    date_hierarchy = "device_time"
    show_full_result_count = False  # the table grows fast; skip the COUNT(*) of all rows

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
