"""Back-office roles as Django groups.

The groups and their permissions are created by the data migration
`0002_backoffice_role_groups`. A user's `role` makes them a member of the matching group (see
`RoleGroupBackend`), so giving someone the dispatcher role is all it takes; an admin may still
add extra groups by hand.
"""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Q

from dropmate.accounts.models import Role

DISPATCHERS = "Dispatchers"
ADMINS = "Admins"
ROLE_GROUPS = {Role.DISPATCHER.value: DISPATCHERS, Role.ADMIN.value: ADMINS}

# What dispatchers may do, per model: they operate shipments and drivers, and only look at
# pricing, users, payments, notifications and location history. (The data migration holds a
# frozen copy.)
DISPATCHER_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "shipments.shipment": ("view", "change", "dispatch", "export"),
    "shipments.shipmentevent": ("view",),
    "shipments.proofofdelivery": ("view",),
    "shipments.pricingrule": ("view",),
    "drivers.driver": ("view", "change"),
    "drivers.vehicle": ("view", "add", "change"),
    "drivers.drivermessage": ("view", "add"),
    "tracking.locationfix": ("view",),
    "notifications.notification": ("view",),
    "accounts.user": ("view",),
}
# Permissions that are not a model's add/change/delete/view: one per kind of admin action.
CUSTOM_PERMISSIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "shipments.shipment": (
        ("dispatch_shipment", "Can accept, reject, assign and cancel shipments"),
        ("export_shipment", "Can export shipments as CSV"),
    ),
}


class RoleGroupBackend(ModelBackend):
    """ModelBackend that also counts the group named after the user's role. The admin role
    holds every permission, including those of models added after the groups were made."""

    def _get_group_permissions(self, user_obj):
        role = getattr(user_obj, "role", "")
        if role == Role.ADMIN:
            return Permission.objects.all()
        group = ROLE_GROUPS.get(role)
        condition = Q(group__user=user_obj)
        if group:
            condition |= Q(group__name=group)
        return Permission.objects.filter(condition).distinct()
