"""The OpenAPI schema: valid, complete, and the live app keeps to it.

The schemathesis run is bounded: a fixed number of generated examples per operation and role
(no shrinking, no example database), so it stays well under a minute.
"""

import pytest
import requests
import schemathesis
import yaml
from django.core.management import call_command
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dropmate.accounts.models import Role
from dropmate.api.tokens import api_token_issue
from shipments.lifecycle import Status
from tests.api.conftest import booking_body
from tests.factories import DriverFactory, UserFactory, make_shipment

OURS = {
    ("get", "/api/v1/shipments"),
    ("post", "/api/v1/shipments"),
    ("post", "/api/v1/quotes"),
    ("get", "/api/v1/shipments/{tracking}"),
    ("get", "/api/v1/shipments/track/{tracking}"),
    ("post", "/api/v1/shipments/{tracking}/transitions"),
    ("get", "/api/v1/drivers"),
    ("get", "/api/v1/drivers/{id}/assignments"),
    ("get", "/api/v1/vehicles"),
}
EXAMPLES_PER_OPERATION = 5
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def schema_dict(tmp_path, db) -> dict:
    path = tmp_path / "schema.yaml"
    # --validate checks the document against the OpenAPI 3 meta-schema.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_schema_validates_without_warnings_and_documents_every_endpoint(schema_dict):
    documented = {(method, path) for path, item in schema_dict["paths"].items() for method in item}
    assert documented >= OURS
    assert set(schema_dict["components"]["securitySchemes"]) >= {"tokenAuth", "cookieAuth"}


def test_every_operation_documents_its_errors_in_the_one_shape(schema_dict):
    for path, item in schema_dict["paths"].items():
        for method, operation in item.items():
            if (method, path) not in OURS:
                continue
            responses = operation["responses"]
            assert {"401", "429"} <= set(responses), (method, path)
            assert "Retry-After" in responses["429"]["headers"]
            for code, response in responses.items():
                assert response.get("description"), (method, path, code)
                if code >= "400":
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/Error", (method, path, code)
    transitions = schema_dict["paths"]["/api/v1/shipments/{tracking}/transitions"]["post"]
    assert "409" in transitions["responses"]
    assert "422" in schema_dict["paths"]["/api/v1/shipments"]["post"]["responses"]
    params = {p["name"] for p in schema_dict["paths"]["/api/v1/shipments"]["get"]["parameters"]}
    assert params >= {"status", "created_after", "created_before", "driver", "search", "page"}


def test_schema_and_docs_are_served(client, db):
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


# --- schemathesis against the live server, as each role ---------------------------------------


def _personas() -> tuple[dict[str, dict[str, str]], dict]:
    alice = UserFactory(role=Role.CUSTOMER)
    dan = DriverFactory()
    dora = UserFactory(role=Role.DISPATCHER, is_staff=True)
    assigned = make_shipment(customer=alice, status=Status.ASSIGNED, driver=dan, staff=dora)
    make_shipment(customer=alice, status=Status.DRAFT)

    def auth(user):
        raw = api_token_issue(user=user, name="schemathesis", issued_by=None).raw
        return {"Authorization": f"Bearer {raw}"}

    roles = {
        "anonymous": {},
        "customer": auth(alice),
        "driver": auth(dan.user),
        "staff": auth(dora),
    }
    return roles, {"tracking": assigned.tracking_number, "id": dan.pk}


def _strategy(operation, known: dict):
    """Generated cases, and as many again aimed at objects that exist (a shipment every role
    but anonymous may see, its driver) and, for bookings, at a valid body."""
    generated = operation.as_strategy()

    def aim(case):
        if case.path_parameters:
            case.path_parameters = {
                **case.path_parameters,
                **{name: known[name] for name in case.path_parameters if name in known},
            }
        if (operation.method.lower(), operation.path) == ("post", "/api/v1/shipments"):
            case.body = booking_body()
        return case

    return st.one_of(generated, generated.map(aim))


def _fuzz(operation, known: dict, base_url: str, session: requests.Session, headers: dict):
    @given(case=_strategy(operation, known))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        response = case.call(base_url=base_url, session=session, headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    return run


@pytest.mark.django_db(transaction=True)
def test_live_api_keeps_to_its_schema_for_every_role(live_server):
    base_url = live_server.url
    raw = requests.get(f"{base_url}/api/schema/?format=json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(raw)
    roles, known = _personas()
    failures: list[str] = []
    session = requests.Session()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.lower(), op.path) for op in operations} >= OURS

    for role, headers in roles.items():
        for operation in operations:
            try:
                _fuzz(operation, known, base_url, session, headers)()
            except Exception as exc:  # collect every operation's failure, then report all
                failures.append(f"{role} {operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
