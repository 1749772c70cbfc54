"""API v1 routes of this app, included under /api/v1/ by dropmate/api/urls.py."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
from drivers.api import planning  # noqa: E402  (dispatch planning: /routes/plan)

urlpatterns += planning.urlpatterns
