"""API v1 routes of this app, included under /api/v1/ by dropmate/api/urls.py."""

from django.urls import path

from drivers.api import views

urlpatterns: list = [
    path("drivers", views.DriversApi.as_view(), name="api-drivers"),
    path(
        "drivers/<int:id>/assignments",
        views.DriverAssignmentsApi.as_view(),
        name="api-driver-assignments",
    ),
    path("vehicles", views.VehiclesApi.as_view(), name="api-vehicles"),
]
