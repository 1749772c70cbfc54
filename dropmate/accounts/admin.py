from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Count

from dropmate.accounts.models import STAFF_ROLES, ApiToken, User


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


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Staff issue personal API tokens here. The secret is shown once, on the page right after
    issuing, and never stored: only its digest is."""

    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "prefix", "user__email")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    actions = ("revoke_tokens",)
    readonly_fields = ("prefix", "created_at", "created_by", "last_used_at", "revoked_at")

    def get_fields(self, request, obj=None):
        return ("user", "name") if obj is None else ("user", "name", *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("user", *self.readonly_fields)

    def save_model(self, request, obj, form, change):
        from dropmate.api.tokens import api_token_issue

        if change:
            obj.save(update_fields=["name"])
            return
        issued = api_token_issue(user=obj.user, name=obj.name, issued_by=request.user)
        obj.pk = issued.token.pk
        obj.refresh_from_db()
        obj.issued_raw = issued.raw  # on the request's object: the admin is shared by threads

    def response_add(self, request, obj, post_url_continue=None):
        from django.template.response import TemplateResponse

        raw = getattr(obj, "issued_raw", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "API token issued",
            "token": obj,
            "raw_token": raw,
        }
        response = TemplateResponse(request, "admin/accounts/apitoken/issued.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected tokens")
    def revoke_tokens(self, request, queryset):
        from dropmate.api.tokens import api_token_revoke

        tokens = list(queryset.filter(revoked_at__isnull=True))
        for token in tokens:
            api_token_revoke(token=token)
        self.message_user(request, f"Revoked {len(tokens)} token(s).", messages.SUCCESS)
