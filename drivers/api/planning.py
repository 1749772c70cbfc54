"""POST /api/v1/routes/plan (staff): plan the day now, or in the background with a job id;
GET /api/v1/routes/plan/<job_id>: how a background plan went."""

from django.urls import path
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from drivers.models import PlanRun
from drivers.planning import selectors, services
from dropmate.accounts.models import STAFF_ROLES
from dropmate.lib.exceptions import NotFound


class IsStaff(BasePermission):
    message = "Only dispatchers and admins plan routes."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and (user.is_superuser or user.role in STAFF_ROLES))


class PlanRoutesApi(APIView):
    permission_classes = [IsAuthenticated, IsStaff]

    class Input(serializers.Serializer):
        date = serializers.DateField(required=False)
        time_budget_s = serializers.FloatField(required=False, min_value=0.1, max_value=60)
        background = serializers.BooleanField(default=False)

    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
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
