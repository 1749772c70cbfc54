"""The notification log in the admin: filters, the rendered message, and the resend and
retry-failed actions."""

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from notifications import services
from notifications.models import Notification

Q = Notification.Status
CHANGELIST = reverse("admin:notifications_notification_changelist")


@pytest.fixture
def failed(alice):
    row = services.notification_write(
        event_key="picked_up",
        recipient=alice,
        audience="customer",
        scope="a",
        extra={"tracking_number": "DM-ADMIN-1"},
    )
    Notification.objects.filter(pk=row.pk).update(
        status=Q.FAILED, attempts=6, last_error="HTTP 500: provider down"
    )
    row.refresh_from_db()
    return row


@pytest.fixture
def staff_client(client, ada):
    client.force_login(ada)
    return client


def test_log_filters_by_status_channel_and_event(staff_client, failed, bob):
    services.notification_write(
        event_key="delivered", recipient=bob, audience="customer", scope="b"
    )
    response = staff_client.get(CHANGELIST, {"status__exact": "failed"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [failed]
    response = staff_client.get(
        CHANGELIST, {"event_key__exact": "delivered", "channel__exact": "email"}
    )
    assert [n.recipient for n in response.context["cl"].result_list] == [bob]
    response = staff_client.get(CHANGELIST, {"recipient__id__exact": failed.recipient_id})
    assert list(response.context["cl"].result_list) == [failed]


def test_detail_shows_rendered_message_attempts_and_error(staff_client, failed):
    url = reverse("admin:notifications_notification_change", args=[failed.pk])
    response = staff_client.get(url)
    content = response.content.decode()
    assert response.status_code == 200
    assert "HTTP 500: provider down" in content
    assert "DM-ADMIN-1" in content
    assert "srcdoc=" in content and 'sandbox=""' in content


def test_resend_creates_a_new_send_with_a_new_key_and_records_who(
    staff_client, failed, ada, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_client.post(
            CHANGELIST, {"action": "resend", "_selected_action": [failed.pk]}, follow=True
        )
    assert response.status_code == 200
    copy = Notification.objects.get(resent_from=failed)
    assert copy.idempotency_key != failed.idempotency_key
    assert (copy.status, copy.attempts, copy.requested_by) == (Q.QUEUED, 0, ada)
    assert copy.body == failed.body
    assert [cb.func.__name__ for cb in callbacks] == ["enqueue"]
    assert LogEntry.objects.filter(object_id=str(copy.pk), user=ada).exists()
    failed.refresh_from_db()
    assert failed.status == Q.FAILED


def test_retry_failed_requeues_only_failed_rows(staff_client, failed, bob):
    sent = services.notification_write(
        event_key="delivered", recipient=bob, audience="customer", scope="c"
    )
    Notification.objects.filter(pk=sent.pk).update(status=Q.SENT, attempts=1)
    response = staff_client.post(
        CHANGELIST,
        {"action": "retry_failed", "_selected_action": [failed.pk, sent.pk]},
        follow=True,
    )
    assert response.status_code == 200
    failed.refresh_from_db()
    sent.refresh_from_db()
    assert (failed.status, failed.attempts) == (Q.QUEUED, 0)
    assert sent.status == Q.SENT
    texts = [str(m) for m in response.context["messages"]]
    assert "1 failed notification(s) queued again." in texts


def test_log_is_for_staff_only(client, alice, failed):
    client.force_login(alice)
    response = client.get(CHANGELIST)
    assert response.status_code == 302
