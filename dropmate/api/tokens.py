"""Personal API tokens: issued by staff, hashed at rest, shown once, revocable.

A token is ``dmt_`` followed by 43 URL-safe characters (256 bits from the OS's CSPRNG). Only its
SHA-256 digest is stored: a fast hash is enough for a random secret of that length, and it lets
the lookup be one indexed equality. `last_used_at` is written at most once a minute per token,
so a busy integration does not turn every read into a write.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from dropmate.accounts.models import ApiToken, User
from dropmate.lib.exceptions import Invalid

TOKEN_PREFIX = "dmt_"  # noqa: S105 (a public marker, not a secret)
PREFIX_SHOWN = 12  # "dmt_" and 8 characters of the secret
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    # The only time the full secret exists outside the client: show it, then forget it.
    raw: str


def api_token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def api_token_issue(*, user: User, name: str, issued_by: User | None) -> IssuedToken:
    name = (name or "").strip()
    if not name:
        raise Invalid("Give the token a name.", details={"field": "name"})
    if not user.is_active:
        raise Invalid("This user is deactivated.", details={"field": "user"})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:80],
        prefix=raw[:PREFIX_SHOWN],
        key_hash=api_token_digest(raw),
        created_by=issued_by,
    )
    return IssuedToken(token=token, raw=raw)


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke now; idempotent (an already revoked token keeps its first revocation time)."""
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db(fields=["revoked_at"])
    return token


def api_token_authenticate(*, raw: str) -> ApiToken | None:
    """The active token for `raw` with its user, or None. Records the last use (to the minute)."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=api_token_digest(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        token.last_used_at = now
    return token
