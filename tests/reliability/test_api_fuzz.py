"""The API keeps its documented contract: schemathesis against the served /openapi.json,
authenticated, every operation: no 5xx and every documented response matches its schema. A
fixed, small budget of examples per operation here; benchmarks/fuzz_api.py runs the long
campaign."""

from __future__ import annotations

import os

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
)

from api.api_helpers import bearer, form, login, ludb_files, register, zipped  # noqa: E402

EXAMPLES = int(os.environ.get("HEARTEYE_API_FUZZ_EXAMPLES", "12"))
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture
def fuzz_target(make_app):
    """The app on PostgreSQL (the fuzz budget is spent once, not per database), a user with
    one stored record, and the schema loaded from the served document."""
    app = make_app(ratelimit_login="10000 per minute", ratelimit_register="10000 per minute")
    client = app.test_client()
    register(client)
    headers = bearer(login(client)["access_token"])
    resp = client.post(
        "/predict",
        headers=headers,
        content_type="multipart/form-data",
        data=form([zipped(ludb_files("1"))]),
    )
    assert resp.status_code == 201
    app.config["FUZZ_HEADERS"] = headers
    return app


@pytest.fixture(params=["postgresql"])
def database_url(request):  # one database (the stricter one; skipped when absent)
    return request.getfixturevalue(f"_{request.param}_url")


@pytest.mark.slow
def test_api_conforms_and_never_5xx(fuzz_target, record_property):
    """Every operation of the served document, EXAMPLES generated requests each."""
    from hypothesis import given

    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzz_target)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 13
    shared = dict(fuzz_target.config["FUZZ_HEADERS"])
    counts = {"examples": 0}
    failures = []
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case):
            headers = shared
            if case.path == "/auth/logout":  # keep the shared token alive
                headers = bearer(login(fuzz_target.test_client())["access_token"])
            if case.headers:
                case.headers.pop("Authorization", None)
            counts["examples"] += 1
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report all
            failures.append(
                f"{operation.method.upper()} {operation.path}: "
                f"{type(exc).__name__}: {str(exc)[:1500]}"
            )
    record_property("api_fuzz_examples", counts["examples"])
    record_property("api_fuzz_failures", len(failures))
    print(
        f"api fuzz: {len(operations)} operations, {counts['examples']} examples, "
        f"{len(failures)} failing operations"
    )
    assert not failures, "\n\n".join(failures)
