from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from dropmate.lib.exceptions import NotAllowed
from notifications import redaction, services
from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The notification log: what was sent to whom, how many attempts, the last error.

    Secrets (a handover PIN) show as •••• at every stage, also while the row still holds them
    to send them (see `notifications.redaction`); such a message cannot be resent or retried
    once it is done: a new secret has to be issued instead."""

    list_display = (
        "created_at",
        "event_key",
        "recipient",
        "channel",
        "to_address",
        "status",
        "attempts",
        "short_error",
    )
    list_filter = (
        "status",
        "channel",
        "event_key",
        ("created_at", admin.DateFieldListFilter),
        ("recipient", admin.RelatedOnlyFieldListFilter),
    )
    date_hierarchy = "created_at"
    search_fields = (
        "recipient__email",
        "to_address",
        "idempotency_key",
        "shipment__tracking_number",
        "provider_id",
    )
    list_select_related = ("recipient",)
    list_per_page = 50
    actions = ("resend", "retry_failed")
    fieldsets = (
        (None, {"fields": ("event_key", "recipient", "shipment", "channel", "to_address")}),
        (
            "Delivery",
            {
                "fields": (
                    "status",
                    "attempts",
                    "last_error",
                    "provider_id",
                    "created_at",
                    "send_after",
                    "last_attempt_at",
                    "sent_at",
                    "idempotency_key",
                    "fallback_of",
                    "resent_from",
                    "requested_by",
                )
            },
        ),
        (
            "Message",
            {"fields": ("language", "urgent", "shown_subject", "text_message", "html_message")},
        ),
    )
    readonly_fields = tuple(
        f
        for section in fieldsets
        for f in section[1]["fields"]
        if f not in ("text_message", "html_message")
    ) + ("text_message", "html_message")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # Read-only log; actions go through their own permission below.
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff

    has_retry_failed_permission = has_resend_permission

    @admin.display(description="last error")
    def short_error(self, obj: Notification) -> str:
        return (obj.last_error[:60] + "…") if len(obj.last_error) > 60 else obj.last_error

    @admin.display(description="subject")
    def shown_subject(self, obj: Notification) -> str:
        return redaction.shown(obj)[0]

    @admin.display(description="text")
    def text_message(self, obj: Notification) -> str:
        return format_html('<pre style="white-space:pre-wrap">{}</pre>', redaction.shown(obj)[1])

    @admin.display(description="HTML")
    def html_message(self, obj: Notification) -> str:
        html = redaction.shown(obj)[2]
        if not html:
            return "—"
        # Sandboxed: the rendered email is shown, never run.
        return format_html(
            '<iframe sandbox="" srcdoc="{}" title="Rendered email" '
            'style="width:100%;min-height:420px;border:1px solid #ccc"></iframe>',
            html,
        )

    @admin.action(
        description="Resend the selected notifications (new send, new key)", permissions=["resend"]
    )
    def resend(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        count = 0
        for notification in queryset.select_related("recipient", "shipment"):
            try:
                copy = services.notification_resend(notification=notification, actor=request.user)
            except NotAllowed as exc:
                self.message_user(request, exc.message, level=messages.ERROR)
                continue
            self.log_addition(request, copy, f"Resend of notification {notification.pk}")
            count += 1
        self.message_user(request, f"{count} notification(s) queued again as new sends.")

    @admin.action(
        description="Retry the selected failed notifications", permissions=["retry_failed"]
    )
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        rows = list(queryset.select_related("shipment"))
        secret_gone = [
            n
            for n in rows
            if n.status == Notification.Status.FAILED
            and not services.notification_can_retry(notification=n)
        ]
        for notification in secret_gone:
            self.message_user(
                request, services.secret_gone_message(notification), level=messages.ERROR
            )
        count = services.notifications_retry_failed(ids=[n.pk for n in rows])
        skipped = len(rows) - count - len(secret_gone)
        self.message_user(request, f"{count} failed notification(s) queued again.")
        if skipped:
            self.message_user(
                request,
                f"{skipped} selected notification(s) had not failed; left alone.",
                level=messages.WARNING,
            )
