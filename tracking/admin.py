from django.contrib import admin

from tracking.models import LocationFix


@admin.register(LocationFix)
class LocationFixAdmin(admin.ModelAdmin):
    list_display = ("driver", "shipment", "device_time", "lat", "lng", "accuracy_m", "flagged")
    list_filter = ("flagged",)
    search_fields = ("driver__user__email", "shipment__tracking_number")
    date_hierarchy = "device_time"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
