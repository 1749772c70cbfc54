"""JSON shapes of the live-tracking API. Parsing only: nothing here saves."""

from django.conf import settings
from rest_framework import serializers


class FixesIn(serializers.Serializer):
    """A batch of fixes from the driver's device. Each fix is validated by the pipeline itself
    (the same rules as the socket), so a bad fix is reported in its result, not as a 400."""

    fixes = serializers.ListField(
        child=serializers.DictField(),
        allow_empty=False,
        max_length=settings.TRACKING_MAX_FIXES_PER_REQUEST,
    )


class FixResultOut(serializers.Serializer):
    client_id = serializers.JSONField()
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "flagged", "rejected"])
    error = serializers.CharField(allow_null=True)


class FixesOut(serializers.Serializer):
    results = FixResultOut(many=True)


class EventsIn(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, default=0)


class FrameOut(serializers.Serializer):
    type = serializers.CharField()
    seq = serializers.IntegerField(allow_null=True)
    ts = serializers.CharField()
    data = serializers.DictField()


class EventsOut(serializers.Serializer):
    tracking_number = serializers.CharField()
    last_seq = serializers.IntegerField()
    frames = FrameOut(many=True)


class PositionOut(serializers.Serializer):
    lat = serializers.FloatField()
    lng = serializers.FloatField()
    accuracy_m = serializers.FloatField(allow_null=True)
    speed_mps = serializers.FloatField(allow_null=True)
    heading = serializers.FloatField(allow_null=True)
    at = serializers.CharField(allow_null=True)
    stale = serializers.BooleanField()


class ShipmentLocationOut(serializers.Serializer):
    tracking_number = serializers.CharField()
    position = PositionOut()
    eta = serializers.DictField(allow_null=True)


class VehicleLocationOut(PositionOut):
    vehicle_id = serializers.IntegerField()
    driver_id = serializers.IntegerField()
