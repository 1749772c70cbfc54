from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from drivers.messaging import driver_message_send
from drivers.models import Driver, DriverMessage, Vehicle
from dropmate.lib.exceptions import DomainError
from shipments.dispatch import ACTIVE_FOR_DRIVER


@admin.register(Vehicle)
class VehicleAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "kind",
        "plate",
        "capacity_kg",
        "capacity_parcels",
        "driver",
        "active",
    )
    list_filter = ("kind", "active")
    search_fields = ("name", "plate", "driver__user__email")
    list_select_related = ("driver__user",)


class OnRoadFilter(admin.SimpleListFilter):
    title = "current load"
    parameter_name = "load"

    def lookups(self, request, model_admin):
        return (("busy", "Has jobs"), ("free", "No jobs"))

    def queryset(self, request, queryset):
        if self.value() == "busy":
            return queryset.filter(current_load__gt=0)
        if self.value() == "free":
            return queryset.filter(current_load=0)
        return queryset


@admin.register(Driver)
class DriverAdmin(admin.ModelAdmin):
    list_display = ("user", "vehicle", "on_duty", "last_seen", "load_column", "shift_end")
    list_filter = ("on_duty", "vehicle__kind", OnRoadFilter)
    search_fields = (
        "user__email",
        "user__first_name",
        "user__last_name",
        "user__phone",
        "vehicle__plate",
    )
    list_select_related = ("user", "vehicle")
    readonly_fields = ("last_lat", "last_lng", "last_fix_at", "on_duty_since")
    autocomplete_fields = ("user",)

    def get_queryset(self, request):
        active = Q(shipments__status__in=ACTIVE_FOR_DRIVER)
        return (
            super().get_queryset(request).annotate(current_load=Count("shipments", filter=active))
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser  # a driver's history is protected by their shipments

    @admin.display(description="last seen", ordering="last_fix_at")
    def last_seen(self, obj: Driver) -> str:
        if obj.last_fix_at is None:
            return "never"
        stale = timezone.now() - obj.last_fix_at
        text = f"{timesince(obj.last_fix_at)} ago"
        if stale.total_seconds() > 600 and obj.on_duty:
            return format_html('<span class="dm-badge dm-late">{}</span>', text)
        return text

    @admin.display(description="current load", ordering="current_load")
    def load_column(self, obj: Driver) -> str:
        capacity = obj.vehicle.capacity_parcels if obj.vehicle else 0
        return f"{obj.current_load} / {capacity}" if capacity else str(obj.current_load)


@admin.register(DriverMessage)
class DriverMessageAdmin(admin.ModelAdmin):
    """Messages to drivers. Adding one sends it (through the messaging service)."""

    list_display = ("driver", "body", "sender", "created_at", "read_at")
    list_filter = ("created_at", ("driver", admin.RelatedOnlyFieldListFilter))
    search_fields = ("driver__user__email", "driver__user__first_name", "body")
    list_select_related = ("driver__user", "sender")
    fields = ("driver", "body")
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return ("driver", "body", "sender", "created_at", "read_at") if obj else ()

    def get_fields(self, request, obj=None):
        return ("driver", "body", "sender", "created_at", "read_at") if obj else self.fields

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        try:
            sent = driver_message_send(driver=obj.driver, sender=request.user, body=obj.body)
        except DomainError as exc:
            raise PermissionDenied(exc.message) from exc
        obj.pk, obj.sender, obj.created_at = sent.pk, sent.sender, sent.created_at
