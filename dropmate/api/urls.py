"""/api/v1/: each app contributes its routes; the schema and docs come from the code."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from drivers.api.replay import UpdatesReplayApi

urlpatterns = [
    path("v1/", include("shipments.api.urls")),
    path("v1/", include("drivers.api.urls")),
    path("v1/", include("drivers.api.planning")),  # dispatch planning: /routes/plan
    path("v1/drivers/me/updates", UpdatesReplayApi.as_view(), name="driver-updates"),
    path("v1/", include("tracking.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
