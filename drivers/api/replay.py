"""POST /api/v1/drivers/me/updates: the driver app's queued updates, applied at most once."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from drivers.models import Driver
from drivers.replay import updates_replay
from dropmate.api.schema import error_responses


class UpdatesReplayApi(APIView):
    """Apply a batch of updates the driver app queued (status changes, proof of delivery,
    duty, location fixes). Each item carries a client-generated `client_id` and `device_time`;
    one result per item comes back in the order sent. Replaying a batch is always safe."""

    class InputSerializer(serializers.Serializer):
        items = serializers.ListField(child=serializers.JSONField(), allow_empty=True)

    class OutputSerializer(serializers.Serializer):
        # Documentation of the shape; job results also carry `shipment`, duplicates
        # `original_status`.
        results = serializers.ListField(child=serializers.DictField())

    @extend_schema(
        request=InputSerializer, responses={200: OutputSerializer, **error_responses(404)}
    )
    def post(self, request: Request) -> Response:
        driver = Driver.objects.filter(user=request.user).first()
        if driver is None:
            raise NotFound("No such page.")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        results = updates_replay(driver=driver, items=data.validated_data["items"])
        return Response({"results": results})
