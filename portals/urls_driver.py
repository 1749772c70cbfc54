"""Routes of the driver portal (included by portals/urls.py)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
