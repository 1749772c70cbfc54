"""Login brute-force protection in front of Django's ModelBackend."""

from axes.backends import AxesStandaloneBackend


class LoginProtectionBackend(AxesStandaloneBackend):
    """django-axes' lockout check for every login made over HTTP.

    A call without a request (management commands, `Client.login()` in tests) is not an
    HTTP login attempt: there is no client address to key on, so axes has nothing to check
    and this backend steps aside instead of refusing (axes' own backend raises)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
