"""Hypothesis-generated payloads against every published inbound contract, posted to the live
server's REST ingest (one test per contract, bounded examples).

Per request: never a 5xx; the answer is what the contract and the pipeline promise —
- 202: one new row, queued, its payload exactly the body sent (the payload is valid);
- 422: one new row, 'rejected' with the schema errors, never processed (the payload is invalid);
  stored on purpose, per the design and the OpenAPI document: an invalid message is kept and
  shown, not lost;
- 200: a repeated message id: no new row, the id of the stored one;
- 400: not a JSON object, or not UTF-8: no row at all.
After each contract's run, once the drains have settled, nothing is half-written: no message is
left 'processing', records are linked only to done messages, no drain job failed, and (for
test.order_report) the business effect is exactly that of the done messages.
"""

import json
import os
import time
import uuid
from collections import Counter

import psycopg2
import pytest
from fault_support import drain_jobs_active, drain_jobs_failed, post, wait_until
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from schema_strategies import any_json, mutated, valid

EXAMPLES_PER_CONTRACT = int(os.environ.get("MFG_FUZZ_EXAMPLES", "30"))
STATS = Counter()


def _published_contracts():
    """The active inbound contracts (what GET openapi.json publishes), read at collection time."""
    dsn = "host={} port={} user={} dbname={}".format(
        os.environ.get("MFG_DB_HOST", "127.0.0.1"),
        os.environ.get("MFG_DB_PORT", "5432"),
        os.environ.get("MFG_DB_USER", "odoo"),
        os.environ.get("MFG_TEST_DB", ""),
    )
    try:
        with psycopg2.connect(dsn) as conn, conn.cursor() as cr:
            cr.execute(
                """SELECT code || '.v' || version FROM mfg_exchange_type
                    WHERE direction = 'inbound' AND active AND code != 'mfg.unroutable' ORDER BY 1"""
            )
            return [r[0] for r in cr.fetchall()]
    except psycopg2.Error:
        return []


def pytest_generate_tests(metafunc):
    if "contract" in metafunc.fixturenames:
        metafunc.parametrize("contract", _published_contracts() or ["(no database)"])


@pytest.fixture(scope="module", autouse=True)
def fuzz_summary(fault_table):
    yield
    if STATS["posts"]:
        fault_table.append(
            {
                "scenario": f"fuzz: hypothesis payloads, {STATS['contracts']} contracts",
                "published": STATS["posts"],
                "stored": STATS["rows"],
                "applied": STATS["done"],
                "lost": STATS["lost"],
                "duplicated": STATS["duplicated"],
                "note": ", ".join(f"{STATS[s]} x {s}" for s in sorted(k for k in STATS if isinstance(k, int)))
                + "; published = posts, stored = rows (202 + 422), applied = done",
            }
        )


def _schema_of(document, contract):
    schema = dict(document["components"]["schemas"][contract])
    schema.pop("$id", None)
    return schema


def _expected_external_id(data, pointer, header_id):
    """The message id the server keys the message on (mirrors the pipeline's rule)."""
    if header_id:
        return header_id
    node = data
    for token in (pointer or "").lstrip("/").split("/"):
        if not token:
            continue
        if not isinstance(node, dict) or token not in node:
            return None
        node = node[token]
    if node is None or isinstance(node, dict | list):
        return None
    return str(node).replace("\x00", "").strip()[:256] or None


def test_contract_fuzz(contract, odoo_server, fuzz_plant, sql):
    assert contract in fuzz_plant["contracts"], f"{contract} is active inbound but not published"
    schema = _schema_of(fuzz_plant["document"], contract)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    backend_id = fuzz_plant["backend_id"]
    type_id = sql("""SELECT id FROM mfg_exchange_type WHERE code || '.v' || version = %s""", (contract,))[0][
        0
    ]
    pointer = fuzz_plant["id_pointers"][contract]
    created, statuses = [], Counter()
    orders_before = dict(sql("SELECT name, applied_count FROM mfg_test_order"))

    def rows_of_type():
        return sql(
            "SELECT count(*) FROM mfg_message WHERE backend_id = %s AND exchange_type_id = %s",
            (backend_id, type_id),
        )[0][0]

    payloads = st.one_of(valid(schema), valid(schema), mutated(schema), any_json)
    bodies = st.one_of(
        st.tuples(payloads, st.sampled_from(["ascii", "ascii", "utf-8"])),
        st.tuples(st.binary(max_size=64), st.just("bytes")),
    )

    @settings(
        max_examples=EXAMPLES_PER_CONTRACT,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(body=bodies, id_in_header=st.booleans())
    def post_one(body, id_in_header):
        value, encoding = body
        if encoding == "bytes":
            raw = value
        elif encoding == "ascii":
            raw = json.dumps(value).encode()
        else:  # UTF-8 as is; a lone surrogate makes it invalid UTF-8 (the server must say 400)
            raw = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
        header_id = f"fz-{uuid.uuid4().hex}" if id_in_header else None
        before = rows_of_type()
        status, answer, _headers = post(
            odoo_server,
            fuzz_plant,
            contract,
            raw,
            headers={"Idempotency-Key": header_id} if header_id else None,
        )
        after = rows_of_type()
        statuses[status] += 1
        context = (contract, status, answer, raw[:300])
        assert status < 500, context
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            data = None
        if not isinstance(data, dict):
            assert status == 400 and after == before, context
            return
        is_valid = validator.is_valid(data)
        if status == 200:
            assert answer["duplicate"] is True and after == before, context
            ext = _expected_external_id(data, pointer, header_id)
            row = sql("SELECT external_id FROM mfg_message WHERE id = %s", (answer["id"],))
            assert ext and row and row[0][0] == ext, (context, row, ext)
            return
        assert status == (202 if is_valid else 422), (context, list(validator.iter_errors(data))[:3])
        assert after == before + 1, context
        state, payload, error_class, error_message = sql(
            "SELECT state, payload, error_class, error_message FROM mfg_message WHERE id = %s",
            (answer["id"],),
        )[0]
        created.append(answer["id"])
        if status == 202:
            assert state in ("queued", "processing", "done", "failed", "retrying", "dead"), context
            assert payload == raw.decode("utf-8").replace("\x00", "\ufffd"), context
        else:
            assert state == "rejected" and error_class == "validation" and error_message, context
            assert answer["errors"] and all(e["path"] and e["message"] for e in answer["errors"]), context

    post_one()

    # The drains settle (a message may wait behind a failed or retrying one of its ordering key:
    # a failure blocks its key, by design); then nothing may be half-written.
    waiting_sql = """
        SELECT m.id, m.state FROM mfg_message m
         WHERE m.backend_id = %s
           AND (m.state = 'processing'
                OR (m.state IN ('received', 'queued') AND NOT EXISTS (
                    SELECT 1 FROM mfg_message p
                     WHERE p.backend_id = m.backend_id AND p.direction = m.direction
                       AND p.ordering_key = m.ordering_key AND p.id < m.id
                       AND p.state IN ('retrying', 'failed', 'dead'))))"""

    def settled():
        return not sql(waiting_sql, (backend_id,)) and not drain_jobs_active(sql, fuzz_plant["code"])

    assert wait_until(settled, timeout=60, interval=0.3), sql(waiting_sql, (backend_id,))
    time.sleep(0.3)
    states = Counter(
        dict(sql("SELECT state, count(*) FROM mfg_message WHERE id = ANY(%s) GROUP BY state", (created,)))
    )
    linked_not_done = sql(
        """SELECT count(*) FROM mfg_message_record r JOIN mfg_message m ON m.id = r.message_id
            WHERE m.id = ANY(%s) AND m.state != 'done'""",
        (created,),
    )[0][0]
    unexplained = sql(
        """SELECT count(*) FROM mfg_message WHERE id = ANY(%s)
              AND state IN ('failed', 'dead', 'rejected', 'retrying') AND coalesce(error_message, '') = ''""",
        (created,),
    )[0][0]
    assert linked_not_done == 0, "a message that did not end done left linked records"
    assert unexplained == 0, "a failed message does not say why"
    assert drain_jobs_failed(sql, fuzz_plant["code"]) == 0, "a drain job failed (crashed) on fuzzed payloads"
    if contract.startswith("test.order_report."):
        # the business effect is exactly that of the done messages, nothing of the failed ones
        payloads_sent = {
            mid: json.loads(p)
            for mid, p, _s in sql(
                "SELECT id, payload, state FROM mfg_message WHERE id = ANY(%s) AND state != 'rejected'",
                (created,),
            )
        }
        done_ids = {
            r[0] for r in sql("SELECT id FROM mfg_message WHERE id = ANY(%s) AND state = 'done'", (created,))
        }
        named = {data["order"] for data in payloads_sent.values()}
        done_orders = Counter(data["order"] for mid, data in payloads_sent.items() if mid in done_ids)
        # PostgreSQL text holds no NUL: such an order can never be applied, only fail
        assert not any("\x00" in name for name in done_orders), done_orders
        named = {name for name in named if "\x00" not in name}
        after_orders = dict(
            sql("SELECT name, applied_count FROM mfg_test_order WHERE name = ANY(%s)", (list(named),))
        )
        changed = {
            name: after_orders.get(name, 0) - orders_before.get(name, 0)
            for name in named
            if after_orders.get(name, 0) != orders_before.get(name, 0)
        }
        assert changed == dict(done_orders), (changed, done_orders)

    STATS["contracts"] += 1
    STATS["posts"] += sum(statuses.values())
    STATS["rows"] += len(created)
    STATS["done"] += states.get("done", 0)
    STATS.update(statuses)
    stored_ids = {r[0] for r in sql("SELECT id FROM mfg_message WHERE id = ANY(%s)", (created,))}
    STATS["lost"] += len(set(created) - stored_ids)
    STATS["duplicated"] += len(created) - len(set(created))


def test_lone_surrogate_in_a_key_field_is_refused_without_a_500(odoo_server, fuzz_plant, sql):
    contract = "test.order_report.v1"
    assert contract in fuzz_plant["contracts"]
    base = {"message_id": f"sur-{uuid.uuid4().hex}", "order": "SUR-1", "product": "x", "quantity": 1}
    for field in ("message_id", "order"):
        payload = dict(base, **{field: "\ud800" + uuid.uuid4().hex[:6]})
        if field != "message_id":
            payload["message_id"] = f"sur-{uuid.uuid4().hex}"
        raw = json.dumps(payload).encode()  # valid JSON text: the surrogate travels as an escape
        status, answer, _headers = post(odoo_server, fuzz_plant, contract, raw)
        assert status in (400, 422), (field, status, answer)
        if status == 422:
            assert sql("SELECT state FROM mfg_message WHERE id = %s", (answer["id"],)) == [("rejected",)]
