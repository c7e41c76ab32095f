"""Property-based: requests made from the OpenAPI document itself, against the real app.

With an owner's write token, no operation answers 500 and every answer matches the document
(status, content type, body schema). With a read token, no write ever succeeds.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from dispatch.demo import ensure_topics
from tests import factories
from tests.web.staffsite import StaffSite, build_site, populate

EXAMPLES = 6


# The document is read when the module is collected; the database is made when it runs.
SITE = build_site(Path(tempfile.mkdtemp(prefix="dispatch-schema-")))
# Well-formed is not always acceptable: an address that does not exist, a draft with no
# items. Those answers are 400/422 problems whose `detail` says why (checked below).
CONFIG = SchemathesisConfig.from_str(
    """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "400", "401", "403", "404", "409", "422"]
"""
)
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", SITE.app, config=CONFIG)


@pytest.fixture(scope="module")
def site() -> Iterator[StaffSite]:
    populate(SITE)
    with SITE.session() as session:
        ensure_topics(session)
        items = [factories.item(session, title=f"Billet {n}") for n in range(3)]
        factories.edition(session, subject="Lettre de test", items=items)
        factories.subscriber(session)
        session.commit()
    yield SITE
    SITE.engine.dispose()


@pytest.fixture(scope="module")
def owner_token(site: StaffSite) -> str:
    return site.token("owner", "write")


@pytest.fixture(scope="module")
def read_token(site: StaffSite) -> str:
    return site.token("owner", "read")


QUICK = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@schema.parametrize()
@QUICK
def test_no_operation_fails_or_breaks_its_schema(case: schemathesis.Case, owner_token: str) -> None:
    response = case.call_and_validate(headers={"Authorization": f"Bearer {owner_token}"})
    if response.status_code in (400, 409, 422):
        problem = response.json()
        assert problem["status"] == response.status_code and problem["detail"].strip()


@schema.parametrize()
@settings(QUICK, max_examples=3)
def test_a_read_token_never_writes(case: schemathesis.Case, read_token: str) -> None:
    response = case.call(headers={"Authorization": f"Bearer {read_token}"})
    assert response.status_code < 500
    writes = case.operation.method.upper() != "GET" or "export" in case.operation.path
    if writes:
        # Refused by the role check (403), or before reaching any route (a path that names
        # nothing, a method the path does not take, a body that is not even JSON).
        assert response.status_code in (400, 403, 404, 405, 422), (case.method, case.path)
        if response.status_code != 403:
            assert response.json()["title"] in (
                "Bad Request",
                "Not Found",
                "Method Not Allowed",
                "Invalid input",
            )
