from django.core.validators import RegexValidator

# E.164: a plus, a country code that does not start with 0, at most 15 digits in all.
e164_validator = RegexValidator(
    regex=r"^\+[1-9]\d{6,14}$",
    message="Enter a phone number in international format, e.g. +32470123456.",
    code="invalid_phone",
)
