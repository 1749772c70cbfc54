"""Role decorators for portal views. A logged-out visitor goes to the login page; a logged-in
user of another role gets 404, so pages never reveal what exists elsewhere."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse

from dropmate.accounts.models import STAFF_ROLES, Role

View = Callable[..., HttpResponse]


def _role_required(allowed: set[str]) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        @login_required
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            role = Role.ADMIN if request.user.is_superuser else request.user.role
            if role not in allowed:
                raise Http404("No such page.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


customer_required = _role_required({Role.CUSTOMER})
driver_required = _role_required({Role.DRIVER})
staff_required = _role_required(set(STAFF_ROLES))
