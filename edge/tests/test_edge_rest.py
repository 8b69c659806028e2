"""The local REST endpoint: strict facts in, 202 only once spooled, errors naming field and value."""

import json
import sqlite3

import pytest
from edge_support import call


@pytest.fixture
def agent(make_agent):
    # no broker: nothing is published, the spool keeps everything (as during a plant broker outage)
    return make_agent(1, start=True)


def rows(agent):
    conn = sqlite3.connect(agent.config.spool_path)
    return conn.execute("SELECT topic, payload, message_id FROM spool ORDER BY id").fetchall()


def test_a_fact_is_spooled_once_and_answered_202_then_200(agent):
    fact = {"message_id": "m-1", "work_order": "WO-1", "quantity": 2.5}
    status, body = call(agent, "POST", "/v1/facts/mes.material_consumption", fact)
    assert status == 202 and body["spooled"] > 0
    again = call(agent, "POST", "/v1/facts/mes.material_consumption", fact)
    assert again == (200, {"spooled": body["spooled"], "duplicate": True})
    assert rows(agent) == [("mfg/T1/mes/mes.material_consumption", json.dumps(fact).encode(), "m-1")]
    assert agent.counts["rest"] == {"accepted": 1, "duplicates": 1, "rejected": 0, "refused_full": 0}


@pytest.mark.parametrize(
    "raw, status, field, text",
    [
        (b'{"message_id": "a", "x": 1', 400, "body", "not JSON"),
        (b'{"message_id": "a", "x": NaN}', 400, "body", "NaN is not a JSON number"),
        (b'{"message_id": "a", "x": 1e999}', 422, "x", "is not a finite number"),
        (b'{"message_id": "a", "m": {"v": [1, -1e400]}}', 422, "m.v[1]", "is not a finite number"),
        (b'{"message_id": "a", "x": "\xff"}', 400, "body", "not UTF-8 at byte"),
        (b'{"message_id": "a", "x": 1, "x": 2}', 400, "x", "appears twice"),
        (b'["message_id"]', 422, "body", "a JSON object is expected, not list"),
        (b'{"quantity": 1}', 422, "message_id", "message_id: required"),
        (b'{"message_id": ""}', 422, "message_id", "is not a non-empty string"),
        (b'{"message_id": 7}', 422, "message_id", "7 is not a non-empty string"),
        (b'{"message_id": "a", "d": ' + b"[" * 40 + b"]" * 40 + b"}", 422, "body", "nesting deeper than 32"),
    ],
)
def test_bad_facts_are_refused_naming_field_and_value(agent, raw, status, field, text):
    got_status, body = call(agent, "POST", "/v1/facts/mes.scrap", raw=raw)
    assert (got_status, body["field"]) == (status, field), body
    assert text in body["error"], body
    assert rows(agent) == []


def test_size_path_type_and_token(make_agent):
    agent = make_agent(1, extra='token = "s3cret"\nmax_body_bytes = 100\n')
    auth = {"Authorization": "Bearer s3cret"}
    assert call(agent, "POST", "/v1/facts/mes.scrap", {"message_id": "a"})[0] == 401
    assert (
        call(agent, "POST", "/v1/facts/mes.scrap", {"message_id": "a"}, {"Authorization": "Bearer no"})[0]
        == 401
    )
    assert call(agent, "GET", "/v1/lots/L/hold")[0] == 401
    status, body = call(agent, "POST", "/v1/facts/mes.scrap", {"message_id": "a", "pad": "x" * 200}, auth)
    assert status == 413 and body["field"] == "body" and body["value"] > 100
    status, body = call(agent, "POST", "/v1/facts/odoo", {"message_id": "a"}, auth)
    assert status == 404 and body == {**body, "field": "contract", "value": "odoo"}
    status, body = call(agent, "POST", "/v1/facts/a%2Fb", {"message_id": "a"}, auth)
    assert status == 422 and body["value"] == "a/b"
    status, body = call(
        agent, "POST", "/v1/facts/mes.scrap", {"message_id": "a"}, {**auth, "Content-Type": "text/csv"}
    )
    assert status == 415 and body["field"] == "Content-Type"
    assert call(agent, "POST", "/v1/facts/mes.scrap", {"message_id": "a"}, auth)[0] == 202


def test_a_full_spool_answers_503_and_keeps_what_it_has(make_agent):
    agent = make_agent(1, extra="", start=False)
    agent.spool.max_messages = 2
    agent.start()
    assert [call(agent, "POST", "/v1/facts/mes.scrap", {"message_id": str(i)})[0] for i in range(3)] == [
        202,
        202,
        503,
    ]
    status, body = call(agent, "POST", "/v1/facts/mes.scrap", {"message_id": "9"})
    assert status == 503 and "max_spool_messages = 2" in body["error"] and body["field"] == "spool"
    assert [r[2] for r in rows(agent)] == ["0", "1"]
    assert agent.counts["rest"]["refused_full"] == 2
