"""schemathesis against the live server's OpenAPI 3.1 document (GET /mfg/api/v1/openapi.json).

Every documented operation (one POST per published contract, GET health) is called with
generated data, valid and invalid (bodies, headers), with the fuzz backend's code as the
``backend`` path parameter and its service key as the bearer credential, and checked with
schemathesis' default checks: no 5xx, status code, content type, headers and body as documented,
invalid data refused, and authentication enforced (schemathesis also replays a request without
the key and with a wrong key and expects 401/403).
"""

import os
import uuid

import pytest
import schemathesis
from fault_support import post
from hypothesis import HealthCheck, settings

EXAMPLES_PER_OPERATION = int(os.environ.get("MFG_SCHEMATHESIS_EXAMPLES", "15"))


@pytest.fixture(scope="session")
def api_schema(odoo_server, fuzz_plant):
    schema = schemathesis.openapi.from_url(f"{odoo_server.base_url}/mfg/api/v1/openapi.json", timeout=30)
    schema.config.update(
        base_url=odoo_server.base_url, parameters={"backend": fuzz_plant["code"]}, request_timeout=30
    )
    # Hypothesis-driven phases only, bounded by max_examples. The coverage phase (every boundary
    # case the schemas define, ~3,000 requests here, 90 s) is too slow for this suite.
    schema.config.phases.update(phases=["examples", "fuzzing"])
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_openapi_operation_conforms(case, fuzz_plant):
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "idempotency-key"}
    if case.method == "POST":
        # A fresh message id on every request: a repeated id is answered 200 "already received"
        # whatever the body (the idempotent consumer, as documented), which is not what is fuzzed.
        headers["Idempotency-Key"] = f"st-{uuid.uuid4().hex}"
    case.headers = headers
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzz_plant['key']}"})


def test_documented_header_limits_hold(odoo_server, fuzz_plant, sql):
    """openapi.json documents X-Correlation-Id and Idempotency-Key with maxLength 255: a longer
    value is refused with 400 naming the header, and nothing is stored."""
    document = fuzz_plant["document"]
    contract = fuzz_plant["contracts"][0]
    operation = document["paths"][f"/mfg/api/v1/{{backend}}/{contract}"]["post"]
    limits = {
        p["name"]: p["schema"]["maxLength"]
        for p in operation["parameters"]
        if p["in"] == "header" and "maxLength" in p.get("schema", {})
    }
    for name, limit in sorted(limits.items()):
        value = uuid.uuid4().hex + "x" * limit  # longer than documented
        before = sql("SELECT count(*) FROM mfg_message WHERE backend_id = %s", (fuzz_plant["backend_id"],))
        status, answer, _headers = post(odoo_server, fuzz_plant, contract, {"any": 1}, headers={name: value})
        assert status == 400, (name, status, answer)
        assert answer["error"] == "invalid_header" and answer["header"] == name, answer
        assert f"at most {limit}" in answer["detail"], answer
        after = sql("SELECT count(*) FROM mfg_message WHERE backend_id = %s", (fuzz_plant["backend_id"],))
        assert after == before, name
