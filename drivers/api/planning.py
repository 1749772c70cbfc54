"""POST /api/v1/routes/plan (staff): plan the day now, or in the background with a job id;
GET /api/v1/routes/plan/<job_id> (staff): how a background plan went."""

import datetime as dt

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from drivers.models import PlanRun
from drivers.planning import selectors, services
from dropmate.accounts.models import STAFF_ROLES
from dropmate.lib.exceptions import NotFound

MAX_DAYS_AWAY = 366
# Plain strings in the schema: a second "status" enum would collide with the shipment one.
STATUS_HELP = "queued, running, done (planned) or kept (failed: the current plan was kept)"


class IsStaff(BasePermission):
    message = "Only dispatchers and admins plan routes."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user and user.is_authenticated and (user.is_superuser or user.role in STAFF_ROLES)
        )


class PlanInput(serializers.Serializer):
    date = serializers.DateField(required=False, help_text="Day to plan (default: today).")
    time_budget_s = serializers.FloatField(
        required=False, min_value=0.1, max_value=30, help_text="Seconds the planner may take."
    )
    background = serializers.BooleanField(
        default=False, help_text="Plan in a background job and return its id at once."
    )

    def validate_date(self, value: dt.date) -> dt.date:
        if abs((value - timezone.localdate()).days) > MAX_DAYS_AWAY:
            raise serializers.ValidationError("Plan a day within a year of today.")
        return value


class StopOutput(serializers.Serializer):
    position = serializers.IntegerField()
    tracking_number = serializers.CharField()
    kind = serializers.CharField(help_text="pickup or dropoff")
    lat = serializers.FloatField()
    lng = serializers.FloatField()
    planned_arrival = serializers.DateTimeField()
    planned_start = serializers.DateTimeField()
    window_start = serializers.DateTimeField(allow_null=True)
    window_end = serializers.DateTimeField(allow_null=True)
    slack_s = serializers.IntegerField(allow_null=True, help_text="Seconds to spare in the window.")
    late = serializers.BooleanField(help_text="On board, and its window can no longer be met.")
    explanation = serializers.CharField(help_text="Why this stop is on this driver, in words.")
    next_best_driver_id = serializers.IntegerField(allow_null=True)
    next_best_extra_s = serializers.IntegerField(allow_null=True)


class RouteOutput(serializers.Serializer):
    driver_id = serializers.IntegerField()
    driver = serializers.CharField()
    date = serializers.DateField()
    planned_at = serializers.DateTimeField(allow_null=True)
    starts_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True)
    travel_s = serializers.IntegerField()
    stops = StopOutput(many=True)


class ReasonOutput(serializers.Serializer):
    tracking_number = serializers.CharField()
    reason = serializers.CharField()


class DriverReasonOutput(serializers.Serializer):
    driver_id = serializers.IntegerField()
    name = serializers.CharField()
    reason = serializers.CharField()


class ExcludedOutput(serializers.Serializer):
    shipments = ReasonOutput(many=True)
    drivers = DriverReasonOutput(many=True)
    notes = serializers.ListField(child=serializers.CharField(), required=False)


class PlanOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    status = serializers.CharField(help_text=STATUS_HELP)
    message = serializers.CharField()
    date = serializers.DateField()
    job_id = serializers.UUIDField()
    routes = RouteOutput(many=True)
    unassigned = ReasonOutput(many=True)
    excluded = ExcludedOutput()
    notes = serializers.ListField(child=serializers.CharField())
    stats = serializers.DictField()


class QueuedOutput(serializers.Serializer):
    job_id = serializers.UUIDField()
    status = serializers.CharField(help_text=STATUS_HELP)


class JobOutput(serializers.Serializer):
    job_id = serializers.UUIDField()
    date = serializers.DateField()
    status = serializers.CharField(help_text=STATUS_HELP)
    message = serializers.CharField(allow_blank=True)
    unassigned = ReasonOutput(many=True)
    excluded = serializers.DictField()
    stats = serializers.DictField()
    routes = RouteOutput(many=True, required=False, help_text="Once the job is done.")


class PlanRoutesApi(APIView):
    permission_classes = [IsAuthenticated, IsStaff]

    @extend_schema(
        operation_id="routes_plan",
        summary="Plan the day's routes (staff)",
        request=PlanInput,
        responses={
            200: OpenApiResponse(
                PlanOutput, description="The plan, or why the current one was kept."
            ),
            202: OpenApiResponse(QueuedOutput, description="Planning in the background."),
        },
        tags=["planning"],
    )
    def post(self, request: Request) -> Response:
        data = PlanInput(data=request.data)
        data.is_valid(raise_exception=True)
        day, budget = data.validated_data.get("date"), data.validated_data.get("time_budget_s")
        if data.validated_data["background"]:
            from drivers.tasks import plan_routes_task

            run = services.plan_run_create(date=day, actor=request.user, trigger="api")
            plan_routes_task.delay_on_commit(
                date=run.date.isoformat(),
                time_budget_s=budget,
                trigger="api",
                plan_run_id=run.pk,
                actor_id=request.user.pk,
            )
            return Response(
                {"job_id": str(run.uuid), "status": PlanRun.Status.QUEUED},
                status=status.HTTP_202_ACCEPTED,
            )
        result = services.plan_routes(
            date=day, time_budget_s=budget, actor=request.user, trigger="api"
        )
        return Response(result.as_dict())


class PlanRunApi(APIView):
    permission_classes = [IsAuthenticated, IsStaff]

    @extend_schema(
        operation_id="routes_plan_job",
        summary="How a background plan went (staff)",
        responses={200: JobOutput},
        tags=["planning"],
    )
    def get(self, request: Request, job_id) -> Response:
        run = PlanRun.objects.filter(uuid=job_id).first()
        if run is None:
            raise NotFound("No such planning job.")
        body = {
            "job_id": str(run.uuid),
            "date": run.date.isoformat(),
            "status": run.status,
            "message": run.message,
            "unassigned": run.unassigned,
            "excluded": run.excluded,
            "stats": run.stats,
        }
        if run.status == PlanRun.Status.DONE:
            body["routes"] = selectors.plan_routes_view(date=run.date)
        return Response(body)


urlpatterns = [
    path("routes/plan", PlanRoutesApi.as_view(), name="api-routes-plan"),
    path("routes/plan/<uuid:job_id>", PlanRunApi.as_view(), name="api-routes-plan-job"),
]
