"""Page-number pagination for API v1 lists: `?page=2&page_size=50`.

Every list answers `{"count", "next", "previous", "results"}`; `next`/`previous` are absolute
URLs or null. A page past the end is 404 (`not_found`).
"""

from functools import cache

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class Pagination(PageNumberPagination):
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


PAGE_PARAMETERS = [
    OpenApiParameter(
        "page",
        {"type": "integer", "minimum": 1},
        OpenApiParameter.QUERY,
        description="Page number, from 1. A page past the end is 404.",
    ),
    OpenApiParameter(
        "page_size",
        {"type": "integer", "minimum": 1},
        OpenApiParameter.QUERY,
        description=f"Items per page (default {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE}).",
    ),
]


@cache
def page_of(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The response serializer of a paginated list of `item` (for the schema)."""
    name = item.__name__.removesuffix("Serializer").removesuffix("Output")
    return type(
        f"{name}Page",
        (serializers.Serializer,),
        {
            "count": serializers.IntegerField(min_value=0, help_text="Items across all pages."),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item(many=True),
            "__module__": __name__,
        },
    )


def paginated_response(
    *,
    queryset: QuerySet,
    serializer_class: type[serializers.Serializer],
    request: Request,
    view,
    context: dict | None = None,
) -> Response:
    paginator = Pagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    data = serializer_class(page, many=True, context=context or {}).data
    return paginator.get_paginated_response(data)
