"""JSON shapes of the drivers API (staff and drivers only)."""

from rest_framework import serializers

from drivers.models import Vehicle
from dropmate.api.fields import UtcDateTimeField
from shipments.lifecycle import Status


class VehicleBriefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=Vehicle.Kind.choices)
    plate = serializers.CharField()


class PositionOutput(serializers.Serializer):
    lat = serializers.FloatField(source="last_lat")
    lng = serializers.FloatField(source="last_lng")
    at = UtcDateTimeField(source="last_fix_at", allow_null=True)

    def to_representation(self, driver):
        if driver.last_lat is None or driver.last_lng is None:
            return None
        return super().to_representation(driver)


class DriverOutput(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField(source="user.first_name")
    last_name = serializers.CharField(source="user.last_name")
    email = serializers.EmailField(source="user.email")
    phone = serializers.CharField(source="user.phone")
    on_duty = serializers.BooleanField()
    on_duty_since = UtcDateTimeField(allow_null=True)
    shift_end = serializers.TimeField(allow_null=True)
    vehicle = VehicleBriefOutput(allow_null=True)
    last_position = PositionOutput(source="*", allow_null=True, help_text="Latest GPS fix.")


class VehicleDriverOutput(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField(source="user.first_name")
    last_name = serializers.CharField(source="user.last_name")


class VehicleOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=Vehicle.Kind.choices)
    plate = serializers.CharField()
    capacity_kg = serializers.DecimalField(max_digits=7, decimal_places=2)
    capacity_parcels = serializers.IntegerField()
    active = serializers.BooleanField()
    driver = VehicleDriverOutput(allow_null=True)


class DriverFilterInput(serializers.Serializer):
    on_duty = serializers.BooleanField(required=False, allow_null=True, default=None)


class VehicleFilterInput(serializers.Serializer):
    active = serializers.BooleanField(required=False, allow_null=True, default=None)


class AssignmentFilterInput(serializers.Serializer):
    status = serializers.MultipleChoiceField(
        choices=Status.choices,
        required=False,
        help_text="Default: jobs not finished yet (assigned and on the road).",
    )
