from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower

from dropmate.lib.validators import e164_validator


class Role(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    DRIVER = "driver", "Driver"
    DISPATCHER = "dispatcher", "Dispatcher"
    ADMIN = "admin", "Admin"


STAFF_ROLES = frozenset({Role.DISPATCHER, Role.ADMIN})


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True, role=Role.ADMIN)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str):
        return self.get(email__iexact=username)


class User(AbstractUser):
    """Logs in with email. `role` decides which portal the user sees."""

    username = None
    email = models.EmailField("email address", unique=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    phone = models.CharField(max_length=16, blank=True, validators=[e164_validator])
    notify_email = models.BooleanField("email notifications", default=True)
    notify_sms = models.BooleanField("SMS notifications", default=False)
    language = models.CharField(max_length=8, blank=True, default="")

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="user_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    @property
    def is_customer(self) -> bool:
        return self.role == Role.CUSTOMER

    @property
    def is_driver(self) -> bool:
        return self.role == Role.DRIVER

    @property
    def is_dispatch_staff(self) -> bool:
        return self.role in STAFF_ROLES
