"""API v1 routes of this app, included under /api/v1/ by dropmate/api/urls.py."""

from django.urls import path  # noqa: F401

urlpatterns: list = []

from drivers.api.replay import UpdatesReplayApi  # noqa: E402 - the driver portal's replay endpoint

urlpatterns.append(path("drivers/me/updates", UpdatesReplayApi.as_view(), name="driver-updates"))
