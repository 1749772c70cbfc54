"""Customer portal forms: they parse and check the shape of input; the booking rules
(windows, weight limit, pickup ≠ drop-off...) are in `shipments.booking`. None of them saves."""

from datetime import date, datetime, timedelta
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib.auth.forms import UserCreationForm
from django.utils import timezone

from dropmate.accounts.models import User
from dropmate.lib.validators import e164_validator
from shipments.lifecycle import Status
from shipments.models import ServiceLevel, Shipment, SizeClass

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs) -> None:
        super().__init__(format=DATETIME_FORMAT, **kwargs)


def _phone_field(label: str, required: bool = True) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=16,
        required=required,
        validators=[e164_validator],
        help_text="International format, e.g. +32470123456.",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )


class SignupForm(UserCreationForm):
    first_name = forms.CharField(label="First name", max_length=150)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)
    phone = _phone_field("Mobile phone", required=False)

    class Meta:
        model = User
        fields = ("email", "first_name", "last_name", "phone")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists. Log in.")
        return email


class ProfileForm(forms.ModelForm):
    phone = _phone_field("Mobile phone", required=False)

    class Meta:
        model = User
        fields = ("first_name", "last_name", "phone", "notify_email", "notify_sms")
        labels = {
            "notify_email": "Email me about my shipments",
            "notify_sms": "Text me about my shipments (SMS)",
        }

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("notify_sms") and not cleaned.get("phone"):
            self.add_error("phone", "Add a mobile number to receive SMS.")
        return cleaned


def _side_form(side: str, title: str) -> type[forms.Form]:
    """Pickup and drop-off ask the same things; field names carry the side (`pickup_city`)."""
    fields = {
        f"{side}_address": forms.CharField(
            label="Street and number",
            max_length=200,
            widget=forms.TextInput(attrs={"autocomplete": "address-line1"}),
        ),
        f"{side}_address2": forms.CharField(
            label="Flat, floor, building (optional)", max_length=200, required=False
        ),
        f"{side}_postcode": forms.CharField(label="Postcode", max_length=16, required=False),
        f"{side}_city": forms.CharField(label="City", max_length=100),
        f"{side}_lat": forms.FloatField(
            label="Latitude", required=False, widget=forms.NumberInput(attrs={"step": "any"})
        ),
        f"{side}_lng": forms.FloatField(
            label="Longitude", required=False, widget=forms.NumberInput(attrs={"step": "any"})
        ),
        f"{side}_contact_name": forms.CharField(label="Contact name", max_length=100),
        f"{side}_contact_phone": _phone_field("Contact phone"),
        f"{side}_instructions": forms.CharField(
            label="Instructions for the driver (optional)",
            max_length=500,
            required=False,
            widget=forms.Textarea(attrs={"rows": 3}),
        ),
    }
    return type(f"{side.title()}Form", (forms.Form,), {**fields, "title": title, "side": side})


PickupForm = _side_form("pickup", "Where do we collect it?")
DropoffForm = _side_form("dropoff", "Where does it go?")


class ParcelForm(forms.Form):
    title = "What are we carrying?"

    size_class = forms.ChoiceField(
        label="Size",
        choices=[("", "Choose a size (or give dimensions)"), *SizeClass.choices],
        required=False,
    )
    length_cm = forms.IntegerField(label="Length (cm)", required=False, min_value=1)
    width_cm = forms.IntegerField(label="Width (cm)", required=False, min_value=1)
    height_cm = forms.IntegerField(label="Height (cm)", required=False, min_value=1)
    weight_kg = forms.DecimalField(
        label="Weight (kg)", max_digits=6, decimal_places=2, min_value=Decimal("0.01")
    )
    declared_value = forms.DecimalField(
        label="Declared value (optional)",
        max_digits=10,
        decimal_places=2,
        required=False,
        min_value=Decimal("0"),
    )
    description = forms.CharField(label="What is it?", max_length=200)
    reference = forms.CharField(label="Your reference (optional)", max_length=64, required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["weight_kg"].widget.attrs["max"] = settings.DROPMATE_MAX_WEIGHT_KG
        self.fields["weight_kg"].help_text = f"Up to {settings.DROPMATE_MAX_WEIGHT_KG} kg."


class ServiceForm(forms.Form):
    title = "How fast, and when?"

    service_level = forms.ChoiceField(
        label="Service", choices=ServiceLevel.choices, widget=forms.RadioSelect
    )
    pickup_window_start = forms.DateTimeField(
        label="Pickup from", input_formats=[DATETIME_FORMAT], widget=DateTimeLocalInput()
    )
    pickup_window_end = forms.DateTimeField(
        label="Pickup until", input_formats=[DATETIME_FORMAT], widget=DateTimeLocalInput()
    )
    delivery_window_start = forms.DateTimeField(
        label="Deliver from", input_formats=[DATETIME_FORMAT], widget=DateTimeLocalInput()
    )
    delivery_window_end = forms.DateTimeField(
        label="Deliver until", input_formats=[DATETIME_FORMAT], widget=DateTimeLocalInput()
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        now = timezone.localtime().strftime(DATETIME_FORMAT)
        for name in ("pickup_window_start", "delivery_window_start"):
            self.fields[name].widget.attrs["min"] = now


STEP_FORMS: dict[str, type[forms.Form]] = {
    "pickup": PickupForm,
    "dropoff": DropoffForm,
    "parcel": ParcelForm,
    "service": ServiceForm,
}


class BookForm(forms.Form):
    payment_method = forms.ChoiceField(label="How will you pay?", widget=forms.RadioSelect)

    def __init__(self, *args, methods: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["payment_method"].choices = methods
        if len(methods) == 1:
            self.fields["payment_method"].initial = methods[0][0]


class ShipmentFilterForm(forms.Form):
    q = forms.CharField(label="Tracking number", max_length=40, required=False)
    status = forms.ChoiceField(
        label="Status", choices=[("", "All statuses"), *Status.choices], required=False
    )


class TrackForm(forms.Form):
    number = forms.CharField(
        label="Tracking number",
        max_length=40,
        widget=forms.TextInput(
            attrs={"placeholder": "DM-XXXXX-XXXXX-XXXXX", "autocapitalize": "characters"}
        ),
    )


class CancelForm(forms.Form):
    reason = forms.CharField(label="Reason (optional)", max_length=200, required=False)


class RedeliveryForm(forms.Form):
    """A new delivery time after a failed attempt: a day and a time window on it, optionally new
    instructions for the driver. `clean` gives `delivery_window_start`/`_end` (aware, in the
    site's time zone); the window rules are `shipments.services.shipment_redelivery_request`'s,
    and `add_window_errors` puts its errors beside the right fields."""

    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    date = forms.DateField(
        label="Day",
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )
    window_start = forms.TimeField(
        label="From",
        input_formats=["%H:%M", "%H:%M:%S"],
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
    )
    window_end = forms.TimeField(
        label="Until",
        input_formats=["%H:%M", "%H:%M:%S"],
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
    )
    dropoff_instructions = forms.CharField(
        label="Instructions for the driver (optional)",
        max_length=Shipment._meta.get_field("dropoff_instructions").max_length,
        required=False,
        help_text="Door code, floor, which entrance: whatever helps us find you this time.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        horizon = today + timedelta(days=settings.DROPMATE_BOOKING_HORIZON_DAYS)
        self.fields["date"].widget.attrs.update(min=today.isoformat(), max=horizon.isoformat())
        self.fields["dropoff_instructions"].widget.attrs["maxlength"] = self.fields[
            "dropoff_instructions"
        ].max_length

    def clean(self) -> dict:
        cleaned = super().clean()
        day, start, end = (cleaned.get(n) for n in ("date", "window_start", "window_end"))
        if day is not None and start is not None and end is not None:
            cleaned["delivery_window_start"] = _aware(day, start)
            cleaned["delivery_window_end"] = _aware(day, end)
        return cleaned

    def add_window_errors(self, errors: dict[str, list[str]]) -> None:
        """Show the service's field errors here: a start on another day than today is the day's
        fault (past, or too far ahead), today's is the start time's."""
        today = timezone.localdate()
        for name, messages in errors.items():
            if name == "delivery_window_start":
                field = "date" if self.cleaned_data.get("date") != today else "window_start"
            elif name == "delivery_window_end":
                field = "window_end"
            else:
                field = name if name in self.fields else None
            for message in messages if isinstance(messages, list) else [messages]:
                self.add_error(field, message)


def _aware(day: date, moment) -> datetime:
    return timezone.make_aware(datetime.combine(day, moment))
