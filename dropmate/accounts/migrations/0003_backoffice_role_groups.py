"""Create the Dispatchers and Admins groups with their permissions, and make existing
dispatchers and admins staff (so they can open the back office)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Frozen copies of dropmate.accounts.roles at the time of this migration.
DISPATCHERS = "Dispatchers"
ADMINS = "Admins"
DISPATCHER_PERMISSIONS = {
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
CUSTOM_PERMISSIONS = {
    "shipments.shipment": (
        ("dispatch_shipment", "Can accept, reject, assign and cancel shipments"),
        ("export_shipment", "Can export shipments as CSV"),
    ),
}


def _ensure_model_permissions(apps, using):
    # Permissions are normally created after all migrations ran; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps, using=using)
        app_config.models_module = None


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    User = apps.get_model("accounts", "User")
    _ensure_model_permissions(apps, schema_editor.connection.alias)

    for label, custom in CUSTOM_PERMISSIONS.items():
        app_label, model = label.split(".")
        ct, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
        for codename, name in custom:
            Permission.objects.get_or_create(
                content_type=ct, codename=codename, defaults={"name": name}
            )

    dispatchers, _ = Group.objects.get_or_create(name=DISPATCHERS)
    wanted = []
    for label, actions in DISPATCHER_PERMISSIONS.items():
        app_label, model = label.split(".")
        for action in actions:
            perm = Permission.objects.filter(
                content_type__app_label=app_label, codename=f"{action}_{model}"
            ).first()
            if perm is not None:
                wanted.append(perm)
    dispatchers.permissions.set(wanted)

    admins, _ = Group.objects.get_or_create(name=ADMINS)
    admins.permissions.set(Permission.objects.all())

    User.objects.filter(role__in=["dispatcher", "admin"]).update(is_staff=True)


def remove_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name__in=[DISPATCHERS, ADMINS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_api_api_token"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("shipments", "0001_initial"),
        ("drivers", "0001_initial"),
        ("tracking", "0001_initial"),
        ("notifications", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
