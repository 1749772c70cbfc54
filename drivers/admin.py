from django.contrib import admin

from drivers.models import Driver, Vehicle


@admin.register(Vehicle)
class VehicleAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "plate", "capacity_kg", "capacity_parcels", "active")
    list_filter = ("kind", "active")
    search_fields = ("name", "plate")


@admin.register(Driver)
class DriverAdmin(admin.ModelAdmin):
    list_display = ("user", "vehicle", "on_duty", "last_fix_at")
    list_filter = ("on_duty",)
    search_fields = ("user__email", "user__first_name", "user__last_name", "vehicle__plate")
    list_select_related = ("user", "vehicle")
    readonly_fields = ("last_lat", "last_lng", "last_fix_at", "on_duty_since")
