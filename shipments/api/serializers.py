"""JSON shapes of the shipments API. Input serializers check types and ranges only; they never
save. Output serializers read model fields (and selectors) and format them: timestamps in UTC,
money as decimal strings with a currency."""

from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dropmate.accounts.models import STAFF_ROLES
from dropmate.api.fields import MAX_ID, MoneySerializer, PointSerializer, UtcDateTimeField
from dropmate.lib.validators import e164_validator
from shipments.lifecycle import Status
from shipments.models import PaymentMethod, PaymentState, ServiceLevel, Shipment, SizeClass
from shipments.selectors import shipment_moves_for

MAX_WEIGHT = Decimal(settings.DROPMATE_MAX_WEIGHT_KG)

# --- input -----------------------------------------------------------------------------------


class PlaceInput(serializers.Serializer):
    address = serializers.CharField(max_length=200)
    address2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100)
    postcode = serializers.CharField(max_length=16)
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lng = serializers.FloatField(min_value=-180, max_value=180)
    contact_name = serializers.CharField(max_length=100)
    contact_phone = serializers.CharField(
        max_length=16, validators=[e164_validator], help_text="E.164, e.g. +32470123456."
    )
    instructions = serializers.CharField(max_length=500, required=False, allow_blank=True)


class ParcelInput(serializers.Serializer):
    size_class = serializers.ChoiceField(choices=SizeClass.choices)
    weight_kg = serializers.DecimalField(
        max_digits=6, decimal_places=2, min_value=Decimal("0.01"), max_value=MAX_WEIGHT
    )


class ShipmentCreateInput(ParcelInput):
    reference = serializers.CharField(max_length=64, required=False, allow_blank=True)
    service_level = serializers.ChoiceField(
        choices=ServiceLevel.choices, default=ServiceLevel.STANDARD
    )
    pickup = PlaceInput()
    dropoff = PlaceInput()
    length_cm = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    width_cm = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    height_cm = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    declared_value = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=Decimal("0"), required=False
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    pickup_window_start = serializers.DateTimeField(required=False)
    pickup_window_end = serializers.DateTimeField(required=False)
    delivery_window_start = serializers.DateTimeField(required=False)
    delivery_window_end = serializers.DateTimeField(required=False)

    def validate(self, attrs):
        errors = {}
        now = timezone.now()
        for window in ("pickup_window", "delivery_window"):
            start, end = attrs.get(f"{window}_start"), attrs.get(f"{window}_end")
            if (start is None) != (end is None):
                errors[f"{window}_end"] = ["Give both the start and the end of the window."]
            elif start is not None and end <= start:
                errors[f"{window}_end"] = ["The window must end after it starts."]
            elif end is not None and end <= now:
                errors[f"{window}_end"] = ["The window is already over."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class QuoteInput(ParcelInput):
    pickup = PointSerializer()
    dropoff = PointSerializer()
    service_level = serializers.ChoiceField(
        choices=ServiceLevel.choices, default=ServiceLevel.STANDARD
    )


class ShipmentFilterInput(serializers.Serializer):
    status = serializers.MultipleChoiceField(
        choices=Status.choices, required=False, help_text="Repeat to match any of several."
    )
    created_after = serializers.DateTimeField(
        required=False, help_text="Created at or after (ISO 8601)."
    )
    created_before = serializers.DateTimeField(required=False, help_text="Created before.")
    driver = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text="Driver id."
    )
    service_level = serializers.ChoiceField(choices=ServiceLevel.choices, required=False)
    search = serializers.CharField(
        max_length=40,
        required=False,
        help_text="A tracking number (any spelling), part of one, or your reference.",
    )


class TransitionInput(serializers.Serializer):
    to = serializers.ChoiceField(choices=Status.choices, help_text="The target status.")
    version = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        help_text="The shipment version you last saw; a stale one gets 409.",
    )
    reason = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="Required to reject, unassign or report a failed attempt.",
    )
    driver = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text="Driver id; required to assign or reassign.",
    )
    lat = serializers.FloatField(min_value=-90, max_value=90, required=False)
    lng = serializers.FloatField(min_value=-180, max_value=180, required=False)


class RedeliveryInput(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        help_text="The shipment version you last saw; a stale one gets 409.",
    )
    delivery_window_start = serializers.DateTimeField(
        help_text="When the new delivery window opens (ISO 8601): in the future, within the "
        "booking horizon."
    )
    delivery_window_end = serializers.DateTimeField(help_text="When it closes: after it opens.")
    dropoff_instructions = serializers.CharField(
        max_length=Shipment._meta.get_field("dropoff_instructions").max_length,
        required=False,
        allow_blank=True,
        trim_whitespace=True,
        help_text="New instructions for the driver; leave out to keep the current ones.",
    )


# --- output ----------------------------------------------------------------------------------

PLACE_FIELDS = ("address", "address2", "city", "postcode", "contact_name", "contact_phone")


def _place_output(side: str) -> type[serializers.Serializer]:
    fields = {name: serializers.CharField(source=f"{side}_{name}") for name in PLACE_FIELDS}
    fields["instructions"] = serializers.CharField(source=f"{side}_instructions")
    fields["lat"] = serializers.FloatField(source=f"{side}_lat", allow_null=True)
    fields["lng"] = serializers.FloatField(source=f"{side}_lng", allow_null=True)
    return type(
        f"{side.title()}Place", (serializers.Serializer,), {**fields, "__module__": __name__}
    )


class ParcelOutput(serializers.Serializer):
    size_class = serializers.ChoiceField(choices=SizeClass.choices, allow_blank=True)
    weight_kg = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    length_cm = serializers.IntegerField(allow_null=True)
    width_cm = serializers.IntegerField(allow_null=True)
    height_cm = serializers.IntegerField(allow_null=True)
    declared_value = serializers.DecimalField(max_digits=10, decimal_places=2)
    description = serializers.CharField()


class PriceLineOutput(serializers.Serializer):
    label = serializers.CharField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)


class PriceOutput(MoneySerializer):
    """The quoted price of a shipment, or null before it is priced."""

    amount = serializers.DecimalField(max_digits=12, decimal_places=2, source="price")
    currency = serializers.CharField()

    def to_representation(self, instance):
        return None if instance.price is None else super().to_representation(instance)


class ShipmentDriverOutput(serializers.Serializer):
    id = serializers.SerializerMethodField(help_text="Null unless you are staff or this driver.")
    first_name = serializers.CharField()

    @extend_schema_field({"type": "integer", "nullable": True})
    def get_id(self, driver) -> int | None:
        user = self.context["request"].user
        if user.is_superuser or user.role in STAFF_ROLES or driver.user_id == user.pk:
            return driver.pk
        return None


class MoveOutput(serializers.Serializer):
    to = serializers.ChoiceField(choices=Status.choices, source="target")
    label = serializers.CharField()
    needs_reason = serializers.BooleanField()
    needs_driver = serializers.BooleanField()
    needs_window = serializers.BooleanField(
        help_text="A new delivery time: send it to POST /api/v1/shipments/{tracking}/redelivery."
    )


class ShipmentOutput(serializers.Serializer):
    tracking_number = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)
    status_label = serializers.CharField(source="get_status_display")
    version = serializers.IntegerField(help_text="Send it back with a transition.")
    reference = serializers.CharField()
    service_level = serializers.ChoiceField(choices=ServiceLevel.choices)
    pickup = _place_output("pickup")(source="*")
    dropoff = _place_output("dropoff")(source="*")
    parcel = ParcelOutput(source="*")
    pickup_window_start = UtcDateTimeField(allow_null=True)
    pickup_window_end = UtcDateTimeField(allow_null=True)
    delivery_window_start = UtcDateTimeField(allow_null=True)
    delivery_window_end = UtcDateTimeField(allow_null=True)
    price = PriceOutput(source="*", allow_null=True)
    price_breakdown = PriceLineOutput(many=True, help_text="Amounts in the price's currency.")
    payment_state = serializers.ChoiceField(choices=PaymentState.choices)
    payment_method = serializers.ChoiceField(choices=PaymentMethod.choices, allow_blank=True)
    driver = ShipmentDriverOutput(allow_null=True)
    created_at = UtcDateTimeField()
    updated_at = UtcDateTimeField()
    status_changed_at = UtcDateTimeField(allow_null=True)


class ShipmentDetailOutput(ShipmentOutput):
    allowed_transitions = serializers.SerializerMethodField(
        help_text="The moves you may make now (what a page shows as buttons)."
    )

    @extend_schema_field(MoveOutput(many=True))
    def get_allowed_transitions(self, shipment) -> list[dict]:
        moves = shipment_moves_for(shipment=shipment, user=self.context["request"].user)
        return MoveOutput(moves, many=True).data


class QuoteOutput(serializers.Serializer):
    price = MoneySerializer()
    distance_km = serializers.DecimalField(
        max_digits=9, decimal_places=2, help_text="Road distance estimate."
    )
    lines = PriceLineOutput(many=True, help_text="Amounts in the price's currency.")


class PublicAreaOutput(serializers.Serializer):
    city = serializers.CharField()
    lat = serializers.FloatField(help_text="Rounded to about a kilometre.")
    lng = serializers.FloatField(help_text="Rounded to about a kilometre.")


class PublicEventOutput(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices)
    label = serializers.CharField()
    at = UtcDateTimeField()


class PublicTrackingOutput(serializers.Serializer):
    """Exactly what the public tracking page shows: no names, phones, street lines or driver."""

    tracking_number = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)
    status_label = serializers.CharField()
    service_level = serializers.ChoiceField(choices=ServiceLevel.choices)
    delivery_window_start = UtcDateTimeField(allow_null=True)
    delivery_window_end = UtcDateTimeField(allow_null=True)
    eta = serializers.JSONField(
        allow_null=True, help_text="The arrival estimate, filled by live tracking once on the way."
    )
    area = PublicAreaOutput(allow_null=True)
    timeline = PublicEventOutput(many=True)
    updated_at = UtcDateTimeField()
