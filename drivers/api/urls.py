"""API v1 routes of this app, included under /api/v1/ by dropmate/api/urls.py."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
