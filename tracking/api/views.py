"""API v1 for live tracking: one APIView per use case, thin over services and selectors."""

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from drivers.models import Driver
from dropmate.api.schema import error_responses
from dropmate.lib.exceptions import NotFound
from shipments.selectors import shipment_get_for_user
from tracking import selectors, services
from tracking.api import serializers as s


class DriverLocationsApi(APIView):
    """POST /api/v1/drivers/me/locations: the driver's device sends a batch of fixes (its
    offline queue, or the socket's fallback). 200 with one result per fix."""

    @extend_schema(request=s.FixesIn, responses={200: s.FixesOut, **error_responses(404)})
    def post(self, request: Request) -> Response:
        driver = Driver.objects.filter(user=request.user).first()
        if driver is None:
            raise NotFound("No driver profile for this account.")
        data = s.FixesIn(data=request.data)
        data.is_valid(raise_exception=True)
        results = services.fixes_ingest(driver=driver, fixes=data.validated_data["fixes"])
        return Response(s.FixesOut({"results": results}).data)


class ShipmentEventsApi(APIView):
    """GET /api/v1/shipments/<tracking>/events?after=<seq>: the frames a live page missed
    (the events after `after`, or one snapshot), for when the socket is down."""

    @extend_schema(parameters=[s.EventsIn], responses=s.EventsOut)
    def get(self, request: Request, tracking: str) -> Response:
        shipment = shipment_get_for_user(user=request.user, tracking_number=tracking)
        params = s.EventsIn(data=request.query_params)
        params.is_valid(raise_exception=True)
        frames = selectors.shipment_catch_up(
            shipment=shipment, user=request.user, after=params.validated_data["after"]
        )
        out = {
            "tracking_number": shipment.tracking_number,
            "last_seq": shipment.last_seq,
            "frames": frames,
        }
        return Response(s.EventsOut(out).data)


class ShipmentLocationApi(APIView):
    """GET /api/v1/shipments/<tracking>/location: the driver's position as this user may see
    it (the privacy rule); 404 when they may not."""

    @extend_schema(responses=s.ShipmentLocationOut)
    def get(self, request: Request, tracking: str) -> Response:
        shipment = shipment_get_for_user(user=request.user, tracking_number=tracking)
        position = selectors.shipment_live_position(shipment=shipment, user=request.user)
        if position is None:
            raise NotFound("No live position for this shipment.")
        out = {
            "tracking_number": shipment.tracking_number,
            "position": position,
            "eta": selectors.shipment_eta(shipment=shipment),
        }
        return Response(s.ShipmentLocationOut(out).data)


class VehicleLocationApi(APIView):
    """GET /api/v1/vehicles/<id>/location: staff only (404 for anyone else)."""

    @extend_schema(responses=s.VehicleLocationOut)
    def get(self, request: Request, vehicle_id: int) -> Response:
        location = selectors.vehicle_location(vehicle_id=vehicle_id, user=request.user)
        if location is None:
            raise NotFound("No live position for this vehicle.")
        return Response(s.VehicleLocationOut(location).data)
