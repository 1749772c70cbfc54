"""Input of the staff pages (dispatch console, analytics). Forms parse and validate; they
never save."""

from datetime import date, timedelta

from django import forms
from django.utils import timezone

from drivers.models import Driver, DriverMessage
from shipments import tracking_numbers
from shipments.analytics import MAX_DAYS, Period

REJECT_REASONS = (
    ("Outside our delivery area", "Outside our delivery area"),
    ("Item not allowed", "Item not allowed"),
    ("No capacity for that window", "No capacity for that window"),
    ("Address could not be verified", "Address could not be verified"),
)


def _tracking(value: str) -> str:
    canonical = tracking_numbers.normalize(value or "")
    if not canonical:
        raise forms.ValidationError("That is not a tracking number.")
    return canonical


class ShipmentActionForm(forms.Form):
    """One shipment and the version the dispatcher saw."""

    tracking_number = forms.CharField(max_length=40)
    version = forms.IntegerField(min_value=1)

    def clean_tracking_number(self) -> str:
        return _tracking(self.cleaned_data["tracking_number"])


class RejectForm(ShipmentActionForm):
    reason = forms.CharField(max_length=500, strip=True)


class AssignForm(forms.Form):
    """Shipments as "TRACKING@VERSION" (what the console showed) and a driver."""

    shipments = forms.MultipleChoiceField(
        choices=(), error_messages={"required": "Select at least one shipment."}
    )
    driver = forms.ModelChoiceField(
        queryset=Driver.objects.none(),
        error_messages={"required": "Choose a driver.", "invalid_choice": "Choose a driver."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["driver"].queryset = Driver.objects.select_related("user")
        # The choices are whatever was posted: each is checked in clean_shipments.
        self.fields["shipments"].valid_value = lambda value: True

    def clean_shipments(self) -> list[tuple[str, int]]:
        parsed = []
        for raw in self.cleaned_data["shipments"][:100]:
            number, _, version = raw.partition("@")
            if not version.isdigit():
                raise forms.ValidationError("Reload the page: a selection is out of date.")
            parsed.append((_tracking(number), int(version)))
        return parsed


class MessageForm(forms.Form):
    driver = forms.ModelChoiceField(
        queryset=Driver.objects.none(),
        error_messages={"required": "Choose a driver.", "invalid_choice": "Choose a driver."},
    )
    body = forms.CharField(
        label="Message",
        max_length=DriverMessage._meta.get_field("body").max_length,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Write a message."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["driver"].queryset = Driver.objects.select_related("user").order_by(
            "-on_duty", "user__first_name"
        )


class AnalyticsRangeForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    @staticmethod
    def default_period() -> Period:
        today = timezone.localdate()
        return Period(start=today - timedelta(days=29), end=today)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if isinstance(start, date) and isinstance(end, date):
            if end < start:
                raise forms.ValidationError("The end date is before the start date.")
            if (end - start).days >= MAX_DAYS:
                raise forms.ValidationError(f"Choose at most {MAX_DAYS} days.")
        return data

    def period(self) -> Period:
        return Period(start=self.cleaned_data["start"], end=self.cleaned_data["end"])
