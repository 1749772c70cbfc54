"""One error shape for every API error: {"error": {"code", "message", "details"}}.

Codes are stable: invalid, not_authenticated, forbidden, not_found, conflict, stale_version,
idempotency_mismatch, payment_failed, throttled, method_not_allowed, unsupported_media_type,
server_error.
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from dropmate.lib.exceptions import DomainError

_DRF_CODES = {
    exceptions.ValidationError: "invalid",
    exceptions.ParseError: "invalid",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "not_authenticated",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def error_body(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def api_exception_handler(exc, context):
    from shipments.payments import PaymentError

    if isinstance(exc, PaymentError):
        return Response(error_body("payment_failed", str(exc)), status=402)
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        details = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return Response(error_body("invalid", "Invalid input.", details), status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: Django's 500 handling and logging take over
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        message, details = "Invalid input.", response.data
        if not isinstance(details, dict):  # ValidationError("...") raised outside a serializer
            details = {"non_field_errors": details}
    else:
        message, details = str(getattr(exc, "detail", exc)), {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        details = {"retry_after": int(exc.wait + 0.999)}
    response.data = error_body(code, message, details)
    if response.status_code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in response:
        response["WWW-Authenticate"] = "Token"
    return response
