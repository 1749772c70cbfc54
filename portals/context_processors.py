from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict:
    return {
        "SITE_NAME": settings.DROPMATE_SITE_NAME,
        "MAP_TILE_URL": settings.DROPMATE_MAP_TILE_URL,
    }
