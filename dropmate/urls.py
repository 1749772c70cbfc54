from django.contrib import admin
from django.urls import include, path

from dropmate import health

admin.site.site_header = "DropMate back office"
admin.site.site_title = "DropMate"
admin.site.index_title = "Operations"

urlpatterns = [
    path("health", health.health, name="health"),
    path("health/ready", health.ready, name="health-ready"),
    path("admin/", admin.site.urls),
    path("api/", include("dropmate.api.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("portals.urls")),
]

handler404 = "dropmate.api.views.not_found"
