"""Personal API tokens: issued by staff in the admin, shown once, hashed at rest, revocable,
last use recorded; and the session still works for our own pages (with CSRF)."""

import hashlib

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from dropmate.accounts.models import ApiToken
from dropmate.api.tokens import api_token_issue, api_token_revoke
from dropmate.lib.exceptions import Invalid
from tests.api.conftest import error_code

URL = "/api/v1/shipments"


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_token_is_stored_only_as_its_digest(alice, dora):
    issued = api_token_issue(user=alice, name="Shop sync", issued_by=dora)
    token = ApiToken.objects.get(pk=issued.token.pk)
    assert issued.raw.startswith("dmt_") and len(issued.raw) > 40
    assert token.key_hash == hashlib.sha256(issued.raw.encode()).hexdigest()
    assert issued.raw not in {token.key_hash, token.prefix, token.name}
    assert issued.raw.startswith(token.prefix)
    assert token.created_by == dora


def test_a_token_authenticates_its_user_and_records_last_use(alice):
    issued = api_token_issue(user=alice, name="Shop", issued_by=None)
    assert issued.token.last_used_at is None
    response = bearer(issued.raw).get(URL)
    assert response.status_code == 200
    last_used = ApiToken.objects.get(pk=issued.token.pk).last_used_at
    assert last_used is not None and (timezone.now() - last_used).total_seconds() < 60


def test_token_keyword_is_accepted_too(alice):
    raw = api_token_issue(user=alice, name="Shop", issued_by=None).raw
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert client.get(URL).status_code == 200


def test_revoked_token_is_refused_with_401(alice):
    issued = api_token_issue(user=alice, name="Shop", issued_by=None)
    api_token_revoke(token=issued.token)
    response = bearer(issued.raw).get(URL)
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_token_of_a_deactivated_user_is_refused(alice):
    raw = api_token_issue(user=alice, name="Shop", issued_by=None).raw
    alice.is_active = False
    alice.save()
    assert bearer(raw).get(URL).status_code == 401


@pytest.mark.parametrize(
    "header", ["Bearer dmt_not-a-real-token", "Bearer", "Bearer a b", "Bearer nope"]
)
def test_bad_tokens_get_401_in_the_one_error_shape(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(URL)
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"


def test_no_credentials_get_401(db):
    response = APIClient().get(URL)
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"


def test_token_needs_a_name(alice):
    with pytest.raises(Invalid):
        api_token_issue(user=alice, name="  ", issued_by=None)


def test_session_works_for_our_pages_and_enforces_csrf(alice, password):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=alice.email, password=password)
    assert client.get(URL).status_code == 200
    response = client.post("/api/v1/quotes", {}, format="json")
    assert response.status_code == 403
    assert error_code(response) == "forbidden"
    assert "CSRF" in response.json()["error"]["message"]


def test_staff_issue_a_token_in_the_admin_and_see_it_once(client, ada, alice):
    client.force_login(ada)
    response = client.post("/admin/accounts/apitoken/add/", {"user": alice.pk, "name": "Warehouse"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get(user=alice, name="Warehouse")
    raw = response.context["raw_token"]
    assert raw in response.content.decode()
    assert token.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    # The change page shows the prefix, never the secret.
    page = client.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
    assert token.prefix in page and raw not in page
    assert bearer(raw).get(URL).status_code == 200


def test_staff_revoke_tokens_from_the_admin(client, ada, alice):
    issued = api_token_issue(user=alice, name="Shop", issued_by=ada)
    client.force_login(ada)
    response = client.post(
        "/admin/accounts/apitoken/",
        {"action": "revoke_tokens", "_selected_action": [issued.token.pk]},
        follow=True,
    )
    assert "Revoked 1 token" in response.content.decode()
    assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is not None
    assert bearer(issued.raw).get(URL).status_code == 401


def test_customers_cannot_reach_the_token_admin(client, alice):
    client.force_login(alice)
    response = client.get("/admin/accounts/apitoken/add/")
    assert response.status_code == 302
