from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Count

from dropmate.accounts.models import STAFF_ROLES, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Everyone who logs in: customers, drivers and staff. Filter by role for customers."""

    ordering = ("email",)
    list_display = (
        "email",
        "first_name",
        "last_name",
        "role",
        "phone",
        "shipment_count",
        "is_active",
        "last_login",
    )
    list_filter = ("role", "is_active", "is_staff", "notify_sms", "date_joined")
    search_fields = ("email", "first_name", "last_name", "phone")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("first_name", "last_name", "phone", "language")}),
        ("Role and notifications", {"fields": ("role", "notify_email", "notify_sms")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "role", "password1", "password2")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_shipments=Count("shipments"))

    @admin.display(description="shipments", ordering="_shipments")
    def shipment_count(self, obj: User) -> int:
        return obj._shipments

    def save_model(self, request, obj, form, change):
        # Dispatchers and admins work in the back office; their role grants the group.
        if obj.role in STAFF_ROLES:
            obj.is_staff = True
        super().save_model(request, obj, form, change)
