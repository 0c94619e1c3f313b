"""A bounded fuzz run of the published OpenAPI description (schemathesis):
whatever requests it generates from /openapi.json, the JSON API never answers
5xx.  Every operation gets at most ``MAX_EXAMPLES`` generated requests (a few
hundred in all), with a valid API key and tickets that exist."""

from __future__ import annotations

import time
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

from _web import make_web

MAX_EXAMPLES = 50
BUDGET_SECONDS = 90


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_openapi_description_fuzzes_without_server_errors(db_url: str, org: Any) -> None:
    web = make_web(db_url, {"agent": org.agent})
    for title in ("Printer jams", "VPN drops"):  # INC-000001, INC-000002 exist
        web.call("POST", "/api/v1/tickets", expect=201,
                 json={"process": "incident", "title": title, "reporter": "li.na@example.com"})
    schema = schemathesis.openapi.from_asgi("/openapi.json", web.app)
    headers = web.auth("agent")
    started = time.monotonic()
    operations, calls, statuses = 0, 0, set()
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) == ("DELETE", "/api/v1/session"):
            continue  # logging out would revoke the key of every later request (tests/web/test_session.py)
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            nonlocal calls
            calls += 1
            response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
            statuses.add(response.status_code)

        fuzz()
    print(f"fuzz: {operations} operations, {calls} requests, statuses {sorted(statuses)}")
    assert operations >= 8 and calls >= operations * 5
    assert statuses and max(statuses) < 500
    assert time.monotonic() - started < BUDGET_SECONDS
