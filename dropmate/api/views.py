"""API-wide views: JSON answers for URLs under /api/ that match no route."""

from django.http import HttpRequest, JsonResponse
from django.views.defaults import page_not_found

from dropmate.api.exceptions import error_body


def not_found(request: HttpRequest, exception=None):
    """404 handler: the API's error shape under /api/, the site's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return page_not_found(request, exception)
