"""Writes to accounts: sign-up and profile changes."""

from django.db import transaction

from dropmate.accounts.models import Role, User


@transaction.atomic
def user_signup(
    *, email: str, password: str, first_name: str, last_name: str = "", phone: str = ""
) -> User:
    """A new customer account. Expects `password` already validated by the password rules."""
    return User.objects.create_user(
        email=email,
        password=password,
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        role=Role.CUSTOMER,
    )


@transaction.atomic
def user_profile_update(*, user: User, **fields) -> User:
    allowed = {"first_name", "last_name", "phone", "notify_email", "notify_sms"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"Unknown profile fields: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(user, name, value)
    user.full_clean(exclude=["password"])
    user.save(update_fields=[*fields])
    return user
