"""The shipment back office. Every action goes through the lifecycle services; a conflict
(someone moved the shipment first) becomes a message on the page, never an error page."""

import csv
from collections.abc import Callable
from datetime import datetime, time, timedelta

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.html import format_html, format_html_join

from drivers.models import Driver
from dropmate.lib.exceptions import DomainError
from notifications.models import Notification
from shipments import dispatch, handover, lifecycle, services
from shipments.lifecycle import Status
from shipments.models import PaymentEvent, PricingRule, ProofOfDelivery, Shipment, ShipmentEvent
from shipments.payments import PaymentError
from tracking.models import LocationFix

# The buttons on a shipment's page: (the move's target, the admin action, its label).
PAGE_ACTIONS = (
    (Status.ACCEPTED, "accept_selected", "Accept"),
    (Status.REJECTED, "reject_selected", "Reject…"),
    (Status.ASSIGNED, "assign_selected", "Assign driver…"),
    (Status.CANCELLED, "cancel_selected", "Cancel…"),
)
# Statuses after which lateness no longer changes.
FINISHED = (Status.DELIVERED, Status.REJECTED, Status.RETURNED, Status.CANCELLED)


def status_badge(status: str, label: str) -> str:
    return format_html('<span class="dm-badge dm-status-{}">{}</span>', status, label)


def payment_badge(state: str, label: str) -> str:
    return format_html('<span class="dm-badge dm-pay-{}">{}</span>', state, label)


class LateFilter(admin.SimpleListFilter):
    title = "late"
    parameter_name = "late"

    def lookups(self, request, model_admin):
        return (("yes", "Late"), ("no", "On time"))

    def queryset(self, request, queryset):
        now = timezone.now()
        late = Q(delivery_window_end__lt=now) & ~Q(status__in=FINISHED) | Q(
            status=Status.DELIVERED, status_changed_at__gt=F("delivery_window_end")
        )
        if self.value() == "yes":
            return queryset.filter(late)
        if self.value() == "no":
            return queryset.exclude(late)
        return queryset


class CreatedRangeFilter(admin.ListFilter):
    """Created between two dates (inclusive), typed into a small form in the sidebar."""

    title = "created between"
    template = "admin/dm_date_range_filter.html"
    params = ("created_from", "created_to")

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.values: dict[str, str] = {}
        for name in self.params:
            if name in params:
                value = params.pop(name)
                self.values[name] = value[-1] if isinstance(value, list) else value
        self.other_params = {
            k: (v[-1] if isinstance(v, list) else v) for k, v in request.GET.items()
        }
        for name in self.params:
            self.other_params.pop(name, None)

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str]:
        return list(self.params)

    def choices(self, changelist):
        return []

    def _bound(self, name: str, end: bool = False):
        day = parse_date(self.values.get(name, "") or "")
        if day is None:
            return None
        moment = datetime.combine(day + timedelta(days=1) if end else day, time.min)
        return timezone.make_aware(moment)

    def queryset(self, request, queryset):
        start, end = self._bound("created_from"), self._bound("created_to", end=True)
        if start:
            queryset = queryset.filter(created_at__gte=start)
        if end:
            queryset = queryset.filter(created_at__lt=end)
        return queryset


class ShipmentEventInline(admin.TabularInline):
    model = ShipmentEvent
    extra = 0
    can_delete = False
    fields = ("seq", "created_at", "kind", "from_status", "status", "actor", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class RejectForm(forms.Form):
    reason = forms.CharField(
        max_length=500, help_text="Shown to the customer.", widget=forms.TextInput()
    )


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False, help_text="Optional.")


class AssignForm(forms.Form):
    driver = forms.ModelChoiceField(queryset=Driver.objects.none(), empty_label=None)

    def __init__(self, *args, drivers: QuerySet[Driver], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["driver"].queryset = drivers
        self.fields["driver"].label_from_instance = lambda d: (
            f"{d} — {d.vehicle or 'no vehicle'} — {d.load} job(s)"
            f"{'' if d.on_duty else ' (off duty)'}"
        )


CSV_COLUMNS = (
    ("tracking_number", lambda s: s.tracking_number),
    ("status", lambda s: s.status),
    ("payment_state", lambda s: s.payment_state),
    ("payment_method", lambda s: s.payment_method),
    ("service_level", lambda s: s.service_level),
    ("customer_email", lambda s: s.customer.email),
    ("customer_phone", lambda s: s.customer.phone),
    ("driver", lambda s: s.driver.user.email if s.driver else ""),
    ("pickup_address", lambda s: s.pickup_address),
    ("pickup_city", lambda s: s.pickup_city),
    ("dropoff_address", lambda s: s.dropoff_address),
    ("dropoff_city", lambda s: s.dropoff_city),
    ("delivery_window_start", lambda s: _iso(s.delivery_window_start)),
    ("delivery_window_end", lambda s: _iso(s.delivery_window_end)),
    ("price", lambda s: "" if s.price is None else str(s.price)),
    ("currency", lambda s: s.currency),
    ("created_at", lambda s: _iso(s.created_at)),
    ("status_changed_at", lambda s: _iso(s.status_changed_at)),
)


def _iso(value) -> str:
    return value.isoformat() if value else ""


def csv_safe(value: str) -> str:
    """Keep spreadsheet programs from running a cell as a formula (phone numbers stay as is)."""
    text = str(value)
    if text[:1] in ("=", "@", "\t", "\r") or (
        text[:1] in ("+", "-") and not text[1:].replace(".", "", 1).isdigit()
    ):
        return "'" + text
    return text


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    change_form_template = "admin/shipments/shipment/dm_change_form.html"
    list_display = (
        "tracking_number",
        "status_column",
        "payment_column",
        "service_level",
        "window_column",
        "customer",
        "driver",
        "price",
        "created_at",
    )
    list_filter = (
        "status",
        CreatedRangeFilter,
        "service_level",
        ("driver", admin.RelatedOnlyFieldListFilter),
        "payment_state",
        LateFilter,
    )
    search_fields = (
        "tracking_number",
        "reference",
        "customer__email",
        "customer__phone",
        "pickup_address",
        "pickup_postcode",
        "dropoff_address",
        "dropoff_postcode",
        "dropoff_contact_phone",
    )
    list_select_related = ("customer", "driver__user")
    list_per_page = 50
    date_hierarchy = "created_at"
    inlines = [ShipmentEventInline]
    actions = [
        "accept_selected",
        "reject_selected",
        "assign_selected",
        "cancel_selected",
        "new_handover_pin",
        "plan_routes_now",
        "export_csv",
    ]
    # What staff may edit by hand; status, price, payment and driver change only via actions.
    editable_fields = (
        "reference",
        "pinned",
        "requires_pod",
        "pickup_instructions",
        "dropoff_instructions",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("tracking_number", "status_column", "version"),
                    ("customer", "reference"),
                    ("payment_column", "payment_method", "price", "currency"),
                    ("driver", "pinned", "requires_pod"),
                )
            },
        ),
        (
            "Pickup",
            {
                "fields": (
                    ("pickup_address", "pickup_address2", "pickup_city", "pickup_postcode"),
                    ("pickup_contact_name", "pickup_contact_phone"),
                    "pickup_instructions",
                    ("pickup_window_start", "pickup_window_end"),
                )
            },
        ),
        (
            "Drop-off",
            {
                "fields": (
                    ("dropoff_address", "dropoff_address2", "dropoff_city", "dropoff_postcode"),
                    ("dropoff_contact_name", "dropoff_contact_phone"),
                    "dropoff_instructions",
                    ("delivery_window_start", "delivery_window_end"),
                    ("predicted_arrival", "actual_arrival"),
                )
            },
        ),
        (
            "Parcel",
            {
                "fields": (
                    ("size_class", "weight_kg", "description"),
                    ("length_cm", "width_cm", "height_cm", "declared_value"),
                    "service_level",
                )
            },
        ),
        ("Proof of delivery", {"fields": ("proof_of_delivery",)}),
        ("Location history", {"fields": ("location_history",)}),
        ("Notifications sent", {"fields": ("notifications_sent",)}),
        ("Dates", {"fields": (("created_at", "updated_at", "status_changed_at"),)}),
    )

    # --- permissions -----------------------------------------------------------------------

    def has_add_permission(self, request) -> bool:
        return False  # customers book; staff never create shipments by hand

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the timeline is the record: cancel instead

    def has_dispatch_permission(self, request) -> bool:
        return request.user.has_perm("shipments.dispatch_shipment")

    def has_export_permission(self, request) -> bool:
        return request.user.has_perm("shipments.export_shipment")

    def get_readonly_fields(self, request, obj=None):
        names = [f.name for f in Shipment._meta.get_fields() if f.concrete and not f.auto_created]
        computed = [
            "status_column",
            "payment_column",
            "proof_of_delivery",
            "location_history",
            "notifications_sent",
        ]
        return [n for n in names if n not in self.editable_fields] + computed

    # --- columns ---------------------------------------------------------------------------

    @admin.display(description="status", ordering="status")
    def status_column(self, obj: Shipment) -> str:
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="payment", ordering="payment_state")
    def payment_column(self, obj: Shipment) -> str:
        return payment_badge(obj.payment_state, obj.get_payment_state_display())

    @admin.display(description="delivery window", ordering="delivery_window_start")
    def window_column(self, obj: Shipment) -> str:
        start, end = obj.delivery_window_start, obj.delivery_window_end
        if not start or not end:
            return "—"
        start, end = timezone.localtime(start), timezone.localtime(end)
        late = obj.status not in FINISHED and end < timezone.now()
        text = f"{start:%d %b %H:%M}–{end:%H:%M}"
        if late:
            return format_html('{} <span class="dm-badge dm-late">late</span>', text)
        return text

    # --- detail sections -------------------------------------------------------------------

    @admin.display(description="proof of delivery")
    def proof_of_delivery(self, obj: Shipment) -> str:
        pod = ProofOfDelivery.objects.filter(shipment=obj).first()
        if pod is None:
            return "None yet."
        files = format_html_join(
            " ",
            '<a href="{}" target="_blank" rel="noopener">{}</a>',
            (
                (f.url, label)
                for f, label in ((pod.photo, "photo"), (pod.signature, "signature"))
                if f
            ),
        )
        where = f"{pod.lat:.5f}, {pod.lng:.5f}" if pod.lat is not None else "—"
        exif = (
            f"{pod.photo_gps_lat:.5f}, {pod.photo_gps_lng:.5f}"
            if pod.photo_gps_lat is not None
            else "—"
        )
        return format_html(
            "Received by <strong>{}</strong> at {} · position {} · photo GPS {} · {}",
            pod.recipient_name or "—",
            timezone.localtime(pod.captured_at).strftime("%d %b %Y %H:%M"),
            where,
            exif,
            files or "no files",
        )

    @admin.display(description="location history")
    def location_history(self, obj: Shipment) -> str:
        fixes = list(
            LocationFix.objects.filter(shipment=obj, flagged=False).order_by("-device_time")[:20]
        )
        if not fixes:
            return "No positions recorded for this delivery."
        url = reverse("admin:tracking_locationfix_changelist") + f"?shipment__id__exact={obj.pk}"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{:.5f}, {:.5f}</td><td>{} m</td></tr>",
            (
                (
                    timezone.localtime(f.device_time).strftime("%H:%M:%S"),
                    f.lat,
                    f.lng,
                    round(f.accuracy_m),
                )
                for f in fixes
            ),
        )
        return format_html(
            '<table class="dm-table"><thead><tr><th>time</th><th>position</th><th>accuracy</th>'
            '</tr></thead><tbody>{}</tbody></table><a href="{}">All positions</a>',
            rows,
            url,
        )

    @admin.display(description="notifications sent")
    def notifications_sent(self, obj: Shipment) -> str:
        rows = list(
            Notification.objects.filter(shipment=obj)
            .select_related("recipient")
            .order_by("created_at")[:50]
        )
        if not rows:
            return "No notifications for this shipment."
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    timezone.localtime(n.created_at).strftime("%d %b %H:%M"),
                    n.event_key,
                    n.get_channel_display(),
                    n.recipient,
                    n.get_status_display(),
                )
                for n in rows
            ),
        )
        return format_html(
            '<table class="dm-table"><thead><tr><th>when</th><th>event</th><th>channel</th>'
            "<th>to</th><th>status</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        shipment = self.get_object(request, object_id)
        buttons = []
        if shipment is not None:
            role = services.actor_role(request.user)
            targets = {m.target for m in lifecycle.moves_from(shipment.status, role)}
            buttons = [
                (action, label) for target, action, label in PAGE_ACTIONS if target in targets
            ]
        extra_context = {**(extra_context or {}), "dm_actions": buttons}
        return super().change_view(request, object_id, form_url, extra_context)

    # --- actions ---------------------------------------------------------------------------

    def _expected_version(self, request: HttpRequest, queryset: QuerySet) -> int | None:
        """The version the dispatcher saw, sent by the buttons on a shipment's page."""
        raw = request.POST.get("expected_version", "")
        if raw.isdigit() and queryset.count() == 1:
            return int(raw)
        return None

    def _apply(
        self,
        request: HttpRequest,
        queryset: QuerySet[Shipment],
        verb: str,
        run: Callable[[Shipment, int | None], Shipment],
    ) -> None:
        expected = self._expected_version(request, queryset)
        done: list[str] = []
        for shipment in queryset.order_by("pk"):
            try:
                with transaction.atomic():
                    run(shipment, expected)
            except (DomainError, PaymentError) as exc:
                message = getattr(exc, "message", str(exc))
                self.message_user(request, f"{shipment}: not {verb}. {message}", messages.ERROR)
            else:
                done.append(str(shipment))
        if done:
            self.message_user(
                request, f"{verb[:1].upper()}{verb[1:]}: {', '.join(done)}.", messages.SUCCESS
            )

    def _form_page(self, request, queryset, *, action: str, title: str, form, extra=None):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "shipments": queryset,
            "form": form,
            "action": action,
            "expected_version": request.POST.get("expected_version", ""),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            **(extra or {}),
        }
        return TemplateResponse(request, "admin/shipments/shipment/dm_action_form.html", context)

    @admin.action(description="Accept selected (captures the payment)", permissions=["dispatch"])
    def accept_selected(self, request, queryset):
        self._apply(
            request,
            queryset,
            "accepted",
            lambda s, v: services.shipment_accept(
                shipment=s, actor=request.user, expected_version=v
            ),
        )

    @admin.action(
        description="Reject selected with a reason (releases the payment)", permissions=["dispatch"]
    )
    def reject_selected(self, request, queryset):
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._form_page(
                request, queryset, action="reject_selected", title="Reject shipments", form=form
            )
        reason = form.cleaned_data["reason"]
        self._apply(
            request,
            queryset,
            "rejected",
            lambda s, v: services.shipment_reject(
                shipment=s, actor=request.user, reason=reason, expected_version=v
            ),
        )
        return None

    @admin.action(description="Assign or reassign a driver", permissions=["dispatch"])
    def assign_selected(self, request, queryset):
        drivers = dispatch.drivers_with_load(on_duty_only=False).order_by(
            "-on_duty", "user__first_name"
        )
        form = AssignForm(request.POST if "apply" in request.POST else None, drivers=drivers)
        if not form.is_valid():
            on_duty = [d for d in drivers if d.on_duty]
            suggestions = [
                (s, dispatch.driver_suggest(shipment=s, drivers=on_duty)) for s in queryset
            ]
            first = next((sg for _, sg in suggestions if sg), None)
            if first and not form.is_bound:
                form.initial["driver"] = first.driver.pk
            return self._form_page(
                request,
                queryset,
                action="assign_selected",
                title="Assign a driver",
                form=form,
                extra={"suggestions": suggestions},
            )
        driver = form.cleaned_data["driver"]
        self._apply(
            request,
            queryset,
            f"assigned to {driver}",
            lambda s, v: services.shipment_assign(
                shipment=s, actor=request.user, driver=driver, expected_version=v
            ),
        )
        return None

    @admin.action(
        description="Cancel selected (refunds a captured payment)", permissions=["dispatch"]
    )
    def cancel_selected(self, request, queryset):
        form = CancelForm(request.POST if "apply" in request.POST else None)
        if not form.is_bound or not form.is_valid():
            return self._form_page(
                request, queryset, action="cancel_selected", title="Cancel shipments", form=form
            )
        reason = form.cleaned_data["reason"]
        self._apply(
            request,
            queryset,
            "cancelled",
            lambda s, v: services.shipment_cancel(
                shipment=s, actor=request.user, reason=reason, expected_version=v
            ),
        )
        return None

    @admin.action(
        description="Send the customer a new handover PIN (unlocks a PIN-locked job)",
        permissions=["dispatch"],
    )
    def new_handover_pin(self, request, queryset):
        # The PIN goes to the customer only: staff never see it (nor does the admin log).
        def run(shipment: Shipment, _expected: int | None) -> Shipment:
            handover.handover_pin_reissue(shipment=shipment)
            self.log_change(request, shipment, "Sent the customer a new handover PIN.")
            return shipment

        self._apply(request, queryset, "sent a new PIN", run)

    @admin.action(description="Plan today's routes now (all drivers)", permissions=["dispatch"])
    def plan_routes_now(self, request, queryset):
        from drivers.planning.services import plan_routes

        result = plan_routes(actor=request.user)
        unassigned = f" {len(result.unassigned)} left unassigned." if result.unassigned else ""
        level = messages.SUCCESS if result.ok else messages.ERROR
        self.message_user(request, f"{result.message}{unassigned}", level)

    @admin.action(description="Export selected as CSV", permissions=["export"])
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="shipments-{stamp}.csv"'
        writer = csv.writer(response)
        writer.writerow([name for name, _ in CSV_COLUMNS])
        for shipment in queryset.select_related("customer", "driver__user").order_by("pk"):
            writer.writerow([csv_safe(get(shipment)) for _, get in CSV_COLUMNS])
        return response


@admin.register(ShipmentEvent)
class ShipmentEventAdmin(admin.ModelAdmin):
    """The timeline of every shipment; filter by kind "Payment" for payment events."""

    list_display = (
        "shipment",
        "seq",
        "kind",
        "status_column",
        "actor",
        "actor_role",
        "note",
        "created_at",
    )
    list_filter = ("kind", "status", "actor_role", "created_at")
    search_fields = ("shipment__tracking_number", "note", "actor__email")
    list_select_related = ("shipment", "actor")
    date_hierarchy = "created_at"

    @admin.display(description="status", ordering="status")
    def status_column(self, obj: ShipmentEvent) -> str:
        return status_badge(obj.status, obj.get_status_display())

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ProofOfDelivery)
class ProofOfDeliveryAdmin(admin.ModelAdmin):
    list_display = ("shipment", "recipient_name", "captured_at", "has_photo", "has_signature")
    search_fields = ("shipment__tracking_number", "recipient_name")
    list_select_related = ("shipment",)
    date_hierarchy = "captured_at"

    @admin.display(boolean=True, description="photo")
    def has_photo(self, obj: ProofOfDelivery) -> bool:
        return bool(obj.photo)

    @admin.display(boolean=True, description="signature")
    def has_signature(self, obj: ProofOfDelivery) -> bool:
        return bool(obj.signature)

    def has_add_permission(self, request) -> bool:
        return False  # drivers capture proof in the app

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class PricingRuleForm(forms.ModelForm):
    class Meta:
        model = PricingRule
        fields = [
            f.name
            for f in PricingRule._meta.get_fields()
            if f.concrete and f.editable and not f.primary_key
        ]

    def validate_constraints(self):
        # "One active rule" is kept by save_model, which retires the previous active rule in
        # the same transaction; every other constraint is checked as usual.
        exclude = self._get_validation_exclusions()
        try:
            self.instance.validate_constraints(exclude=exclude | {"active"})
        except forms.ValidationError as exc:
            self._update_errors(exc)


@admin.register(PricingRule)
class PricingRuleAdmin(admin.ModelAdmin):
    """One rule is active at a time; saving a rule as active retires the previous one."""

    form = PricingRuleForm
    list_display = (
        "name",
        "active",
        "currency",
        "base_fee",
        "per_km",
        "minimum_fare",
        "updated_at",
    )
    list_filter = ("active", "currency")
    search_fields = ("name",)
    readonly_fields = ("created_at", "updated_at")

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            if obj.active:
                PricingRule.objects.filter(active=True).exclude(pk=obj.pk).update(active=False)
            super().save_model(request, obj, form, change)


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
