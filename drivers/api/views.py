"""Drivers API v1: staff lists of drivers and vehicles; a driver's assignments for staff and
for that driver."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from drivers import selectors
from drivers.api import serializers as s
from dropmate.api.base import ApiView, IsStaff
from dropmate.api.fields import MAX_ID
from dropmate.api.pagination import PAGE_PARAMETERS, page_of, paginated_response
from shipments.api.serializers import ShipmentOutput

DRIVER_ID = OpenApiParameter(
    "id",
    {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    OpenApiParameter.PATH,
    description="Driver id.",
)


def _filters(serializer_class, request) -> dict:
    filters = serializer_class(data=request.query_params)
    filters.is_valid(raise_exception=True)
    return filters.validated_data


class DriversApi(ApiView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="drivers_list",
        summary="List drivers (staff)",
        parameters=[s.DriverFilterInput, *PAGE_PARAMETERS],
        responses={200: OpenApiResponse(page_of(s.DriverOutput), description="A page of drivers.")},
        tags=["drivers"],
    )
    def get(self, request):
        f = _filters(s.DriverFilterInput, request)
        return paginated_response(
            queryset=selectors.drivers_list(on_duty=f.get("on_duty")),
            serializer_class=s.DriverOutput,
            request=request,
            view=self,
        )


class DriverAssignmentsApi(ApiView):
    @extend_schema(
        operation_id="drivers_assignments",
        summary="A driver's assignments",
        description=(
            "Staff may read any driver's; a driver only their own. Anyone else gets 404. "
            "Ordered by delivery window."
        ),
        parameters=[DRIVER_ID, s.AssignmentFilterInput, *PAGE_PARAMETERS],
        responses={200: OpenApiResponse(page_of(ShipmentOutput), description="A page of jobs.")},
        tags=["drivers"],
    )
    def get(self, request, id: int):
        driver = selectors.driver_get_for_user(user=request.user, driver_id=id)
        f = _filters(s.AssignmentFilterInput, request)
        return paginated_response(
            queryset=selectors.driver_assignments(
                driver=driver, statuses=sorted(f.get("status", []))
            ),
            serializer_class=ShipmentOutput,
            request=request,
            view=self,
            context={"request": request},
        )


class VehiclesApi(ApiView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="vehicles_list",
        summary="List vehicles (staff)",
        parameters=[s.VehicleFilterInput, *PAGE_PARAMETERS],
        responses={
            200: OpenApiResponse(page_of(s.VehicleOutput), description="A page of vehicles.")
        },
        tags=["drivers"],
    )
    def get(self, request):
        f = _filters(s.VehicleFilterInput, request)
        return paginated_response(
            queryset=selectors.vehicles_list(active=f.get("active")),
            serializer_class=s.VehicleOutput,
            request=request,
            view=self,
        )
