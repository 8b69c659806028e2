"""Hostile requests to the live server's REST ingest (issue 13 item 7): shapes that made it
answer 500, and generated variations of them. Every bad request gets a 4xx with the error body
(``error`` and ``detail``), a good one 202 (or 422, stored as rejected); never a 5xx, and the
server's log holds no traceback of the ingest's request handling afterwards (drain jobs run
through the same server and are not judged here).

Shapes: JSON nested 50,000 deep (arrays, objects), NaN / Infinity / 1e309 numbers, id headers
of 6,000 characters and with NUL, a payload message id of 6,000 characters, NUL and very long
codes in the URL, an exchange type version beyond any integer; then hypothesis-generated header
values (long, NUL and other control characters) and number literals.
"""

import json
import uuid

import pytest
import requests
from fault_support import post, request_errors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CONTRACT = "test.order_report.v1"
ID_HEADERS = ("Idempotency-Key", "X-Correlation-Id", "X-Message-Id")
INGEST = "/controllers/"  # tracebacks of the REST routes (not of drain jobs run over HTTP)


def _order(plant, **extra):
    data = {
        "message_id": f"hx-{uuid.uuid4().hex}",
        "order": "HX-1",
        "product": plant["product"],
        "quantity": 1,
    }
    data.update(extra)
    return data


def _raw_with(plant, literal):
    """A valid order report whose quantity is the JSON text ``literal`` as is (e.g. NaN)."""
    text = json.dumps(_order(plant, quantity=123456789))
    return text.replace("123456789", literal).encode()


def _check_answer(status, answer, allowed, context):
    assert status < 500, context
    assert status in allowed, context
    if 400 <= status < 500 and status != 422:
        assert isinstance(answer, dict) and answer.get("error") and answer.get("detail"), context


@pytest.fixture
def no_new_500s(odoo_server):
    start = len(odoo_server.log_text())
    yield
    assert request_errors(odoo_server, start, INGEST) == [], "the ingest logged a request-handling error"


SHAPES = {
    "arrays nested 50,000 deep": (lambda p: b'{"order": ' + b"[" * 50000 + b"]" * 50000 + b"}", {}, {400}),
    "objects nested 50,000 deep": (lambda p: b'{"a": ' * 50000 + b"1" + b"}" * 50000, {}, {400}),
    "NaN": (lambda p: _raw_with(p, "NaN"), {}, {400}),
    "Infinity": (lambda p: _raw_with(p, "Infinity"), {}, {400}),
    "-Infinity": (lambda p: _raw_with(p, "-Infinity"), {}, {400}),
    "1e309": (lambda p: _raw_with(p, "1e309"), {}, {400}),
    "-1e309": (lambda p: _raw_with(p, "-1e309"), {}, {400}),
    "a payload message id of 6,000 characters": (
        lambda p: json.dumps(_order(p, message_id="m" * 6000)).encode(),
        {},
        {202, 422},
    ),
    **{
        f"{name} of 6,000 characters": (lambda p: json.dumps(_order(p)).encode(), {name: "h" * 6000}, {400})
        for name in ID_HEADERS
    },
    **{
        f"{name} with NUL": (lambda p: json.dumps(_order(p)).encode(), {name: "a\x00b"}, {400})
        for name in ID_HEADERS
    },
    "User-Agent with NUL and 6,000 characters": (
        lambda p: json.dumps(_order(p)).encode(),
        {"User-Agent": "ua\x00" + "u" * 6000},
        {202},
    ),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_hostile_body_or_header_gets_a_4xx_never_a_500(shape, odoo_server, fuzz_plant, sql, no_new_500s):
    body, headers, allowed = SHAPES[shape]
    rows_before = sql("SELECT count(*) FROM mfg_message WHERE backend_id = %s", (fuzz_plant["backend_id"],))[
        0
    ][0]
    status, answer, _headers = post(odoo_server, fuzz_plant, CONTRACT, body(fuzz_plant), headers=headers)
    _check_answer(status, answer, allowed, (shape, status, answer))
    rows_after = sql("SELECT count(*) FROM mfg_message WHERE backend_id = %s", (fuzz_plant["backend_id"],))[
        0
    ][0]
    assert rows_after == rows_before + (1 if status in (202, 422) else 0), (shape, status)


@pytest.mark.parametrize(
    "backend, contract, allowed",
    [
        ("{code}%00", CONTRACT, {400}),
        ("%00", CONTRACT, {400}),
        ("{code}", "test.order_report%00.v1", {400}),
        ("{code}", "test.order_report.v1%00", {400}),
        ("x" * 5000, CONTRACT, {400}),
        ("{code}", "t" * 5000, {400}),
        ("{code}", "test.order_report.v99999999999999999999", {404}),
        ("{code}%0A", CONTRACT, {400}),
    ],
)
def test_hostile_path_gets_a_4xx_never_a_500(
    backend, contract, allowed, odoo_server, fuzz_plant, no_new_500s
):
    url = f"{odoo_server.base_url}/mfg/api/v1/{backend.format(code=fuzz_plant['code'])}/{contract}"
    resp = requests.post(
        url,
        data=json.dumps(_order(fuzz_plant)).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {fuzz_plant['key']}"},
        timeout=60,
    )
    try:
        answer = resp.json()
    except ValueError:
        answer = None
    _check_answer(resp.status_code, answer, allowed, (url[:200], resp.status_code, resp.text[:200]))


# Header values a client can send (latin-1 text without CR/LF), biased to the hostile ones.
header_values = st.one_of(
    st.text(st.characters(min_codepoint=0, max_codepoint=255, exclude_characters="\r\n"), max_size=300),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", "\x00", "\x01", "\t", "é"]), st.integers(200, 7000)),
    st.sampled_from(["\x00", "a\x00", "x" * 255, "x" * 256]),
).filter(lambda v: not v or v[0] not in " \t\x0b\x0c")  # a client refuses to send these


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(name=st.sampled_from(ID_HEADERS), value=header_values)
def test_generated_id_header_values_never_500(name, value, odoo_server, fuzz_plant):
    start = len(odoo_server.log_text())
    status, answer, _headers = post(
        odoo_server, fuzz_plant, CONTRACT, _order(fuzz_plant), headers={name: value.encode("latin-1")}
    )
    context = (name, value[:40], len(value), status, answer)
    # the server may strip surrounding blanks; NUL is no blank
    expected = {400} if (len(value.strip()) > 255 or "\x00" in value) else {202, 200, 400, 422}
    _check_answer(status, answer, expected, context)
    if status == 400 and answer.get("error") == "invalid_header":
        assert answer["header"] == name, context
    assert request_errors(odoo_server, start, INGEST) == [], context


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    literal=st.one_of(
        st.sampled_from(
            ["NaN", "-NaN", "Infinity", "-Infinity", "1e309", "-1e309", "1E400", "9" * 400 + ".0", "9" * 5000]
        ),
        st.builds(lambda m, e: f"{m}e{e}", st.integers(1, 9), st.integers(309, 100000)),
    )
)
def test_generated_non_finite_numbers_never_500(literal, odoo_server, fuzz_plant):
    start = len(odoo_server.log_text())
    status, answer, _headers = post(odoo_server, fuzz_plant, CONTRACT, _raw_with(fuzz_plant, literal))
    _check_answer(status, answer, {400}, (literal[:40], status, answer))
    assert request_errors(odoo_server, start, INGEST) == [], literal[:40]
