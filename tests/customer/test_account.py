"""Sign up, log in (with brute-force protection), log out, password reset by email, profile."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from dropmate.accounts.models import Role, User


def test_signup_creates_a_customer_and_logs_in(client, db):
    response = client.post(
        reverse("signup"),
        {
            "email": "Carol@Example.com",
            "first_name": "Carol",
            "phone": "+32470999999",
            "password1": "a-long-unusual-passphrase",
            "password2": "a-long-unusual-passphrase",
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("customer-book")
    user = User.objects.get(email="carol@example.com")
    assert user.role == Role.CUSTOMER and not user.is_staff
    assert client.get(reverse("customer-book")).status_code == 200


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "alice@example.com"}, "email"),
        ({"phone": "0470123456"}, "phone"),
        ({"password2": "something-else-entirely"}, "password2"),
        ({"password1": "123", "password2": "123"}, "password2"),
        ({"first_name": ""}, "first_name"),
    ],
)
def test_signup_errors_are_shown_beside_the_field(client, alice, changes, field):
    data = {
        "email": "carol@example.com",
        "first_name": "Carol",
        "password1": "a-long-unusual-passphrase",
        "password2": "a-long-unusual-passphrase",
        **changes,
    }
    response = client.post(reverse("signup"), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert f'id="id_{field}_error" role="alert"' in response.content.decode()
    assert User.objects.filter(role=Role.CUSTOMER).count() == 1  # only alice


def test_login_and_logout(client, alice, password):
    response = client.post(
        reverse("login"), {"username": "alice@example.com", "password": password}
    )
    assert response.status_code == 302
    assert client.get(reverse("customer-shipments")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("customer-shipments")).status_code == 302


def _fail(client, email, ip):
    return client.post(
        reverse("login"), {"username": email, "password": "wrong-password"}, REMOTE_ADDR=ip
    )


def test_repeated_failures_lock_that_user_from_that_address_only(
    client, settings, alice, bob, password
):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _fail(client, "alice@example.com", "198.51.100.1").status_code == 200
    locked = _fail(client, "alice@example.com", "198.51.100.1")
    assert locked.status_code == 429
    assert "Too many failed log-ins" in locked.content.decode()
    # Even the right password is refused from there during the cool-off.
    again = client.post(
        reverse("login"),
        {"username": "alice@example.com", "password": password},
        REMOTE_ADDR="198.51.100.1",
    )
    assert again.status_code == 429
    # Bob behind the same address still logs in, and so does alice from elsewhere.
    ok = client.post(
        reverse("login"),
        {"username": "bob@example.com", "password": password},
        REMOTE_ADDR="198.51.100.1",
    )
    assert ok.status_code == 302
    client.post(reverse("logout"))
    ok = client.post(
        reverse("login"),
        {"username": "alice@example.com", "password": password},
        REMOTE_ADDR="198.51.100.2",
    )
    assert ok.status_code == 302


def test_lockout_ends_after_the_cool_off(client, settings, alice, password):
    from datetime import timedelta

    from axes.models import AccessAttempt

    for _ in range(settings.AXES_FAILURE_LIMIT):
        _fail(client, "alice@example.com", "198.51.100.3")
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.first().attempt_time
        - settings.AXES_COOLOFF_TIME
        - timedelta(seconds=1)
    )
    ok = client.post(
        reverse("login"),
        {"username": "alice@example.com", "password": password},
        REMOTE_ADDR="198.51.100.3",
    )
    assert ok.status_code == 302


def test_password_reset_by_email(client, alice):
    response = client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+/)", body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "another-long-passphrase", "new_password2": "another-long-passphrase"},
    )
    assert done.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("another-long-passphrase")


def test_password_reset_for_unknown_email_looks_the_same(client, db):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_profile_saves_phone_and_preferences(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("customer-profile"),
        {"first_name": "Alice", "last_name": "A", "phone": "+32470555555", "notify_sms": "on"},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.phone == "+32470555555" and alice.notify_sms and not alice.notify_email


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"phone": "+0470555555"}, "phone"),
        ({"phone": "0032 470 55 55 55"}, "phone"),
        ({"phone": "", "notify_sms": "on"}, "phone"),
    ],
)
def test_profile_rejects_non_e164_phone(client, alice, data, field):
    client.force_login(alice)
    before = alice.phone
    response = client.post(reverse("customer-profile"), {"first_name": "Alice", **data})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    alice.refresh_from_db()
    assert alice.phone == before


def test_a_forged_forwarded_for_header_does_not_dodge_the_lockout(client, settings, alice):
    for n in range(settings.AXES_FAILURE_LIMIT + 2):
        response = client.post(
            reverse("login"),
            {"username": "alice@example.com", "password": "wrong"},
            REMOTE_ADDR="198.51.100.5",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )
    assert response.status_code == 429


def test_logins_without_a_request_still_work_for_tools_and_tests(client, alice, password):
    assert client.login(username="alice@example.com", password=password)
    assert client.get(reverse("customer-shipments")).status_code == 200
