"""OpenAPI documentation shared by every API v1 view.

`AutoSchema` adds the error responses an operation can give without each view repeating them:
401 (bad or missing credentials), 403 (role or CSRF), 404 (path objects, pages past the end),
400/415 for bodies and query parameters, 429 with `Retry-After` everywhere. A view documents the
errors only it can give (409, 422...) with `error_responses(...)` in its `extend_schema`.
"""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers

ERROR_CODES = (
    "invalid, not_authenticated, forbidden, not_found, conflict, stale_version, "
    "idempotency_mismatch, payment_failed, throttled, method_not_allowed, "
    "unsupported_media_type, server_error"
)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text=f"Stable machine-readable code: {ERROR_CODES}.")
    message = serializers.CharField(help_text="A sentence for people.")
    details = serializers.DictField(
        help_text=(
            "Structured context: field errors for `invalid`; `current_status` and "
            "`current_version` for `conflict` and `stale_version`; `retry_after` for `throttled`."
        )
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


DESCRIPTIONS = {
    400: "Invalid input (`invalid`), with field errors in `details`.",
    401: "Missing, invalid or revoked credentials (`not_authenticated`).",
    402: "The payment processor refused (`payment_failed`); nothing changed.",
    403: "Your role may not do this, or the CSRF check failed (`forbidden`).",
    404: "No such object, or not yours (`not_found`); also a page past the end.",
    409: "Conflict with the current state (`conflict`, `stale_version`).",
    415: "Send `application/json` (`unsupported_media_type`).",
    422: "The Idempotency-Key was used with another body (`idempotency_mismatch`).",
    429: "Too many requests (`throttled`); retry after `Retry-After` seconds.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    return {
        code: OpenApiResponse(ErrorSerializer, description=DESCRIPTIONS[code]) for code in codes
    }


class AutoSchema(SpectacularAutoSchema):
    def _is_public(self) -> bool:
        return any(
            issubclass(p, permissions.AllowAny)
            for p in getattr(self.view, "permission_classes", ())
            if isinstance(p, type)
        )

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        has_body = self.method in ("POST", "PUT", "PATCH")
        codes = {401, 429}
        if has_body:
            codes |= {400, 415}
        if any(_is_query(p) for p in self.get_override_parameters()):
            codes.add(400)
        if not self._is_public():
            codes.add(403)
        if "{" in self.path or any(getattr(p, "name", "") == "page" for p in self._params()):
            codes.add(404)
        for code in sorted(codes):
            key = str(code)
            if key in responses:
                continue
            response = OpenApiResponse(ErrorSerializer, description=DESCRIPTIONS[code])
            responses[key] = self._get_response_for_code(response, key, direction=direction)
        responses["429"].setdefault("headers", {})["Retry-After"] = {
            "schema": {"type": "integer", "minimum": 1},
            "description": "Seconds to wait before trying again.",
        }
        return responses

    def _params(self):
        return [p for p in self.get_override_parameters() if hasattr(p, "name")]


def _is_query(parameter) -> bool:
    """An OpenApiParameter in the query, or a filter serializer (exploded into the query)."""
    return getattr(parameter, "location", "query") == "query"
