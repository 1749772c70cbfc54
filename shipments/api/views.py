"""Shipments API v1: thin views over shipments.selectors, shipments.pricing and
shipments.commands. One view per URL; one use case per method."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.response import Response

from dropmate.api.base import ApiView
from dropmate.api.pagination import PAGE_PARAMETERS, page_of, paginated_response
from dropmate.api.schema import error_responses
from dropmate.api.throttling import AnonThrottle, TrackThrottle, UserThrottle
from dropmate.lib.exceptions import Invalid, NotFound
from shipments import commands, selectors, services
from shipments.api import serializers as s
from shipments.pricing import quote_compute

TRACKING = OpenApiParameter(
    "tracking",
    str,
    OpenApiParameter.PATH,
    description="Tracking number, e.g. DM-7K2QF-9XH4M-3PZ8T (case and dashes are forgiven).",
    pattern=r"^[A-Za-z0-9-]{1,40}$",
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description=(
        "Optional, up to 255 printable ASCII characters. The same key and body book once and "
        "replay the same shipment; the same key with another body is refused with 422."
    ),
    pattern=r"^[\x21-\x7e]{1,255}$",
)
REPLAYED = OpenApiParameter(
    "Idempotent-Replayed",
    str,
    OpenApiParameter.HEADER,
    response=[201],
    enum=["true"],
    description="Present when the response replays an earlier booking with the same key.",
)
KEY_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F))


def _detail(shipment, request, code=status.HTTP_200_OK, **kwargs) -> Response:
    data = s.ShipmentDetailOutput(shipment, context={"request": request}).data
    return Response(data, status=code, **kwargs)


class ShipmentsApi(ApiView):
    @extend_schema(
        operation_id="shipments_list",
        summary="List shipments",
        description="Yours as a customer, your assigned ones as a driver, all as staff.",
        parameters=[s.ShipmentFilterInput, *PAGE_PARAMETERS],
        responses={
            200: OpenApiResponse(page_of(s.ShipmentOutput), description="A page of shipments.")
        },
        tags=["shipments"],
    )
    def get(self, request):
        filters = s.ShipmentFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        qs = selectors.shipments_search(
            user=request.user,
            statuses=sorted(f.get("status", [])),
            created_after=f.get("created_after"),
            created_before=f.get("created_before"),
            driver_id=f.get("driver"),
            service_level=f.get("service_level", ""),
            search=f.get("search", ""),
        )
        return paginated_response(
            queryset=qs,
            serializer_class=s.ShipmentOutput,
            request=request,
            view=self,
            context={"request": request},
        )

    @extend_schema(
        operation_id="shipments_book",
        summary="Book a shipment",
        description=(
            "Customers only. The server prices the shipment with the active pricing rule and "
            "submits it: it starts `awaiting_payment` (unpaid) — payment is made in the "
            "customer portal. Send an `Idempotency-Key` to make retries safe."
        ),
        parameters=[IDEMPOTENCY_KEY, REPLAYED],
        request=s.ShipmentCreateInput,
        responses={
            201: OpenApiResponse(
                s.ShipmentDetailOutput,
                description="Booked (or, with `Idempotent-Replayed`, the earlier booking).",
            ),
            **error_responses(422),
        },
        tags=["shipments"],
    )
    def post(self, request):
        key = request.headers.get("Idempotency-Key")
        if key is not None and not (0 < len(key) <= 255 and set(key) <= KEY_CHARS):
            raise Invalid(
                "Idempotency-Key must be 1 to 255 printable ASCII characters.",
                details={"Idempotency-Key": ["Invalid value."]},
            )
        data = s.ShipmentCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = _flatten(data.validated_data)
        if key is None:
            return _detail(commands.shipment_book(customer=request.user, **fields), request, 201)
        shipment, created = commands.shipment_book_idempotent(
            customer=request.user,
            key=key,
            fingerprint=commands.request_fingerprint(request.data),
            **fields,
        )
        headers = {} if created else {"Idempotent-Replayed": "true"}
        return _detail(shipment, request, status.HTTP_201_CREATED, headers=headers)


def _flatten(data: dict) -> dict:
    fields = {k: v for k, v in data.items() if k not in ("pickup", "dropoff")}
    for side in ("pickup", "dropoff"):
        fields.update({f"{side}_{name}": value for name, value in data[side].items()})
    return fields


class QuotesApi(ApiView):
    @extend_schema(
        operation_id="quotes_create",
        summary="Price a prospective shipment",
        description="The server's price and its breakdown, without booking anything.",
        request=s.QuoteInput,
        responses={200: OpenApiResponse(s.QuoteOutput, description="The price and its lines.")},
        tags=["shipments"],
    )
    def post(self, request):
        data = s.QuoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        quote = quote_compute(
            pickup=(v["pickup"]["lat"], v["pickup"]["lng"]),
            dropoff=(v["dropoff"]["lat"], v["dropoff"]["lng"]),
            weight_kg=v["weight_kg"],
            size_class=v["size_class"],
            service_level=v["service_level"],
        )
        return Response(
            s.QuoteOutput(
                {
                    "price": {"amount": quote.total, "currency": quote.currency},
                    "distance_km": quote.distance_km,
                    "lines": quote.lines,
                }
            ).data
        )


class ShipmentDetailApi(ApiView):
    @extend_schema(
        operation_id="shipments_retrieve",
        summary="One shipment",
        description="Your view of one shipment; another user's shipment is 404.",
        parameters=[TRACKING],
        responses={200: OpenApiResponse(s.ShipmentDetailOutput, description="The shipment.")},
        tags=["shipments"],
    )
    def get(self, request, tracking: str):
        shipment = selectors.shipment_get_for_user(user=request.user, tracking_number=tracking)
        return _detail(shipment, request)


class ShipmentTrackApi(ApiView):
    permission_classes = [permissions.AllowAny]
    throttle_classes = [AnonThrottle, UserThrottle, TrackThrottle]

    @extend_schema(
        operation_id="shipments_track",
        summary="Public tracking",
        description=(
            "Anyone with the tracking number: the same limited fields as the public tracking "
            "page. Drafts and unknown numbers are 404. Rate-limited per client."
        ),
        parameters=[TRACKING],
        responses={200: OpenApiResponse(s.PublicTrackingOutput, description="Public status.")},
        auth=[],
        tags=["tracking"],
    )
    def get(self, request, tracking: str):
        shipment = selectors.shipment_get_public(tracking_number=tracking)
        if shipment is None:
            raise NotFound("No such shipment.")
        view = selectors.shipment_public_view(shipment=shipment)
        return Response(s.PublicTrackingOutput(view).data)


class ShipmentTransitionsApi(ApiView):
    @extend_schema(
        operation_id="shipments_transition",
        summary="Change a shipment's status",
        description=(
            "Through the lifecycle service, with the version you last saw. A stale version or "
            "a move that is not possible from the current status is 409 with "
            "`current_status` and `current_version` in `details`; a move your role may not "
            "make is 403."
        ),
        parameters=[TRACKING],
        request=s.TransitionInput,
        responses={
            200: OpenApiResponse(s.ShipmentDetailOutput, description="The moved shipment."),
            409: OpenApiResponse(
                error_responses(409)[409].response,
                description="Stale version (`stale_version`) or impossible move (`conflict`).",
            ),
            **error_responses(402),
        },
        tags=["shipments"],
    )
    def post(self, request, tracking: str):
        shipment = selectors.shipment_get_for_user(user=request.user, tracking_number=tracking)
        data = s.TransitionInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        moved = commands.shipment_request_transition(
            shipment=shipment,
            to=v["to"],
            actor=request.user,
            expected_version=v["version"],
            reason=v.get("reason", ""),
            driver_id=v.get("driver"),
            lat=v.get("lat"),
            lng=v.get("lng"),
        )
        return _detail(moved, request)


class ShipmentRedeliveryApi(ApiView):
    @extend_schema(
        operation_id="shipments_redelivery",
        summary="Choose a new delivery time after a failed attempt",
        description=(
            "The shipment's customer (a limited number of times; then support arranges it) or "
            "staff, while the shipment is `failed_attempt`. Stores the window and, when given, "
            "new drop-off instructions, and records a timeline note with its `seq`; the driver "
            "then tries again. The window must start in the future, within the booking "
            "horizon, and end after it starts (400 with field errors). Sending the same window "
            "again changes nothing. A stale version, another status or the limit reached is "
            "409 with `current_status` and `current_version` in `details`."
        ),
        parameters=[TRACKING],
        request=s.RedeliveryInput,
        responses={
            200: OpenApiResponse(s.ShipmentDetailOutput, description="The shipment, rescheduled."),
            409: OpenApiResponse(
                error_responses(409)[409].response,
                description="Stale version (`stale_version`), not a failed attempt or the limit "
                "reached (`conflict`).",
            ),
        },
        tags=["shipments"],
    )
    def post(self, request, tracking: str):
        shipment = selectors.shipment_get_for_user(user=request.user, tracking_number=tracking)
        data = s.RedeliveryInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        saved = services.shipment_redelivery_request(
            shipment=shipment,
            actor=request.user,
            window_start=v["delivery_window_start"],
            window_end=v["delivery_window_end"],
            instructions=v.get("dropoff_instructions"),
            expected_version=v["version"],
        )
        return _detail(saved, request)
