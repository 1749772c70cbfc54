"""What every API v1 view shares: JSON in, the one error shape out, role checks."""

from rest_framework import exceptions, permissions
from rest_framework.parsers import JSONParser
from rest_framework.views import APIView

from dropmate.accounts.models import STAFF_ROLES


def is_staff_user(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in STAFF_ROLES))


class IsStaff(permissions.BasePermission):
    """Dispatchers and admins. Other roles get 403 `forbidden` on collections; objects they may
    not see are 404 (the selectors decide that)."""

    message = "Only dispatch staff may do this."

    def has_permission(self, request, view) -> bool:
        return is_staff_user(request.user)


class ApiView(APIView):
    """JSON only: form and multipart bodies are refused with 415.

    Refused requests count against the throttles too (DRF checks throttles only after
    authentication and permissions pass), so guessing tokens or probing endpoints
    anonymously also runs into 429."""

    parser_classes = [JSONParser]

    def perform_authentication(self, request) -> None:
        try:
            request.user  # noqa: B018 (authenticates)
        except exceptions.AuthenticationFailed:
            self.check_throttles(request)  # now anonymous: counted per client address
            raise

    def permission_denied(self, request, message=None, code=None) -> None:
        self.check_throttles(request)
        super().permission_denied(request, message=message, code=code)
