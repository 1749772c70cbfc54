"""Output conventions shared by every API v1 serializer: UTC timestamps, money with currency."""

from datetime import UTC

from rest_framework import serializers

# The largest id any of our databases stores (a signed 64-bit integer): bigger ones are 400/404,
# never an overflow in the database driver.
MAX_ID = 2**63 - 1


class UtcDateTimeField(serializers.DateTimeField):
    """ISO 8601 in UTC with a `Z`, whatever TIME_ZONE the site runs in."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("default_timezone", UTC)
        super().__init__(**kwargs)


class MoneySerializer(serializers.Serializer):
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, coerce_to_string=True, help_text="A decimal string."
    )
    currency = serializers.CharField(help_text="ISO 4217 code, e.g. EUR.")


def money(amount, currency: str) -> dict | None:
    if amount is None:
        return None
    return {"amount": amount, "currency": currency}


class PointSerializer(serializers.Serializer):
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lng = serializers.FloatField(min_value=-180, max_value=180)
