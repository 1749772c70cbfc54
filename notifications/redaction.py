"""Secrets in the outbox: context values that only the recipient may see (an event's
`secret_keys`, e.g. the handover PIN). Staff read the notification log and backups keep every
row, so a secret lives in a row only while the row may still be sent.

A row written with a secret keeps in its payload:
- "context": the template context with each secret replaced by REDACTED (for good);
- "secret_keys": which keys were secret (for good: it says the row carried a secret);
- "secrets": the real values, and "masked": the subject, body and HTML rendered with the mask,
  both only while the row is queued, held or sending. Its subject, body and body_html are the
  real message, which is what the transport sends.

When the row is done (sent, failed for good, skipped) `scrubbed_fields` says what to write:
the masked message over the real one, and the payload without "secrets" and "masked". The
message cannot be rebuilt after that: a resend needs a new secret (see
`services.notification_resend`). The admin shows the masked message at every stage (`shown`).

Pure functions: the writes are in `notifications.delivery` and `notifications.services`.
"""

from typing import TYPE_CHECKING, Any

from notifications.events import REDACTED, EventSpec

if TYPE_CHECKING:
    from notifications.models import Notification
    from notifications.rendering import Rendered


def split(*, spec: EventSpec, context: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(context with each secret masked, the secrets). The secrets are empty when the
    context holds none of the event's secret keys (or only empty values)."""
    secrets = {k: context[k] for k in sorted(spec.secret_keys) if context.get(k) not in (None, "")}
    if not secrets:
        return context, {}
    return {**context, **dict.fromkeys(secrets, REDACTED)}, secrets


def secret_payload(*, secrets: dict[str, Any], masked: "Rendered") -> dict[str, Any]:
    """The payload keys a row written with `secrets` carries while it is active."""
    return {
        "secret_keys": sorted(secrets),
        "secrets": secrets,
        "masked": {"subject": masked.subject, "body": masked.body, "html": masked.html},
    }


def carried_secrets(notification: "Notification") -> bool:
    return bool(notification.payload.get("secret_keys"))


def holds_secrets(notification: "Notification") -> bool:
    return "secrets" in notification.payload


def secrets_gone(notification: "Notification") -> bool:
    """The row carried a secret that it no longer stores: its message cannot be sent again."""
    return carried_secrets(notification) and not holds_secrets(notification)


def mask_text(text: str, notification: "Notification") -> str:
    """`text` (e.g. a provider's error, which may quote the message) without the row's secrets."""
    for value in notification.payload.get("secrets", {}).values():
        if str(value):
            text = text.replace(str(value), REDACTED)
    return text


def scrubbed_fields(notification: "Notification") -> dict[str, Any]:
    """The field values that take the secrets out of a row that is done; {} when it holds
    none. Write them in the same update that finishes the row, or right after it."""
    if not holds_secrets(notification):
        return {}
    payload = {k: v for k, v in notification.payload.items() if k not in ("secrets", "masked")}
    masked = notification.payload.get("masked") or {}
    return {
        "payload": payload,
        "subject": masked.get("subject", ""),
        "body": masked.get("body", ""),
        "body_html": masked.get("html", ""),
    }


def shown(notification: "Notification") -> tuple[str, str, str]:
    """(subject, body, html) as staff may see them: masked even while the row is active."""
    masked = notification.payload.get("masked")
    if masked:
        return masked.get("subject", ""), masked.get("body", ""), masked.get("html", "")
    return notification.subject, notification.body, notification.body_html
