"""HTML input of the driver portal. Parses and checks shape only; the services decide."""

import base64
import binascii

from django import forms
from django.conf import settings

from drivers.services import DECLINE_REASONS
from shipments import lifecycle


class DutyForm(forms.Form):
    on_duty = forms.TypedChoiceField(
        choices=[("1", "On duty"), ("0", "Off duty")], coerce=lambda v: v == "1"
    )


class DeclineForm(forms.Form):
    reason = forms.ChoiceField(
        label="Why do you decline?", choices=[("", "Choose a reason"), *DECLINE_REASONS]
    )
    note = forms.CharField(label="Note (needed for “Other”)", max_length=300, required=False)

    def clean(self):
        data = super().clean()
        if data.get("reason") == "other" and not (data.get("note") or "").strip():
            self.add_error("note", "Say why you decline this job.")
        return data


class StatusForm(forms.Form):
    """A plain status button: the target status, plus a reason for a failed attempt."""

    to = forms.ChoiceField(choices=lifecycle.Status.choices, widget=forms.HiddenInput)
    reason = forms.ChoiceField(
        label="What happened?",
        choices=[("", "Choose a reason"), *lifecycle.FAILED_ATTEMPT_REASONS],
        required=False,
    )
    note = forms.CharField(label="Note", max_length=300, required=False)

    def clean(self):
        data = super().clean()
        if data.get("to") == lifecycle.Status.FAILED_ATTEMPT:
            if not data.get("reason"):
                self.add_error("reason", "Choose why the delivery failed.")
            elif data["reason"] == "other" and not (data.get("note") or "").strip():
                self.add_error("note", "Describe what happened.")
        return data


class DeliverForm(forms.Form):
    """Proof of delivery. The files are judged by content in `shipments.pod`, not here."""

    photo = forms.FileField(
        label="Photo of the parcel at the door",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}),
    )
    # A signature file (API-like clients); the page sends the canvas as `signature_data`.
    signature = forms.FileField(required=False)
    signature_data = forms.CharField(required=False, widget=forms.HiddenInput)
    recipient_name = forms.CharField(label="Recipient's name", max_length=100, required=False)
    pin = forms.CharField(
        label="Handover PIN",
        max_length=12,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def clean_signature_data(self) -> bytes | None:
        value = self.cleaned_data.get("signature_data") or ""
        if not value:
            return None
        if value.startswith("data:"):
            value = value.partition(",")[2]
        if len(value) > settings.POD_MAX_BYTES * 4 // 3 + 8:
            raise forms.ValidationError("The signature is too large.")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise forms.ValidationError("The signature could not be read; sign again.") from None
