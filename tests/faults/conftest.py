"""Fault suite: each scenario ends by counting, and the session ends with one table of them.

The fixtures of tests/conftest.py (odoo_server, odoo_env, sql, ...) apply here: tests/conftest.py
stays the root conftest of the suite. A scenario calls ``fault_report(...)`` with its counts
*before* asserting, so that a failing scenario still shows its numbers in the table.
"""

import contextlib
import tempfile
from pathlib import Path

import pytest
import requests
from fault_support import make_plant
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis keeps caches (and, unless database=None, examples) in ./.hypothesis: keep the
# working tree clean.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "mfg-hub-hypothesis")

_ROWS = []

# The MQTT fault scenarios of tests/test_mqtt_transport.py, with the counts each one asserts when
# it passes (published, stored, applied; "-" = not measured by that test). Shown in the table
# when they ran in the same session.
MQTT_SCENARIOS = {
    "test_1000_messages_end_to_end_to_done": ("MQTT: 1,000 messages end to end", 1000, 1000, 1000),
    "test_duplicate_storm_applied_once": ("MQTT: duplicate storm (300 x 3)", 900, 300, 300),
    "test_kill_9_listener_mid_stream_loses_nothing": ("MQTT: kill -9 listener mid-stream", 5000, 5000, "-"),
    "test_broker_restart_mid_stream_loses_nothing": ("MQTT: broker restart mid-stream", 3000, 3000, "-"),
    "test_postgresql_restart_mid_stream_loses_nothing": ("MQTT: PostgreSQL restart", 2000, 2000, "-"),
    "test_two_listeners_in_a_shared_group_split_without_duplicates": (
        "MQTT: 2 listeners, shared group",
        2000,
        2000,
        2000,
    ),
}


@pytest.fixture(scope="session")
def fuzz_plant(odoo_server, odoo_registry):
    """A backend enabled for every published inbound contract (throttling off), with its service
    user's API key, and the OpenAPI document of the live server: the target of the fuzzing."""
    import odoo

    @contextlib.contextmanager
    def env_factory():
        with odoo_registry.cursor() as cr:
            yield odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})

    resp = requests.get(f"{odoo_server.base_url}/mfg/api/v1/openapi.json", timeout=30)
    resp.raise_for_status()
    document = resp.json()
    contracts = sorted(
        op["post"]["x-contract"]
        for op in document["paths"].values()
        if "post" in op and "x-contract" in op["post"]
    )
    plant = make_plant(env_factory, "fuzz", inbound=contracts)
    with env_factory() as env:
        pointers = {c: env["mfg.exchange.type"]._find(c).external_id_pointer for c in contracts}
    return {**plant, "document": document, "contracts": contracts, "id_pointers": pointers}


@pytest.fixture(scope="session")
def fault_table():
    """The rows of the session's fault table (a list of dicts), for fixtures of any scope."""
    return _ROWS


@pytest.fixture
def fault_report(request, fault_table):
    """Record one row of the session's fault table."""

    def record(scenario, published, stored, applied, lost, duplicated, note=""):
        fault_table.append(
            {
                "scenario": scenario,
                "published": published,
                "stored": stored,
                "applied": applied,
                "lost": lost,
                "duplicated": duplicated,
                "note": note,
                "test": request.node.name,
            }
        )

    return record


def _mqtt_rows(terminalreporter):
    rows = []
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") != "call" or "test_mqtt_transport.py" not in report.nodeid:
                continue
            name = report.nodeid.rsplit("::", 1)[-1]
            if name not in MQTT_SCENARIOS:
                continue
            scenario, published, stored, applied = MQTT_SCENARIOS[name]
            ok = outcome == "passed"
            rows.append(
                {
                    "scenario": scenario,
                    "published": published,
                    "stored": stored if ok else "?",
                    "applied": applied if ok else "?",
                    "lost": 0 if ok else "?",
                    "duplicated": 0 if ok else "?",
                    "note": "counts asserted by tests/test_mqtt_transport.py" + ("" if ok else " (FAILED)"),
                }
            )
    return rows


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    rows = list(_ROWS) + _mqtt_rows(terminalreporter)
    if not rows:
        return
    headers = ("scenario", "published", "stored", "applied", "lost", "duplicated", "note")
    table = [[str(row.get(h, "")) for h in headers] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(headers)]

    def line(cells):
        out = []
        for i, cell in enumerate(cells):
            out.append(cell.rjust(widths[i]) if 0 < i < len(headers) - 1 else cell.ljust(widths[i]))
        return " | ".join(out).rstrip()

    terminalreporter.write_sep("=", "fault scenarios: published / stored / applied / lost / duplicated")
    terminalreporter.write_line(line(headers))
    terminalreporter.write_line("-+-".join("-" * w for w in widths))
    for cells in table:
        terminalreporter.write_line(line(cells))
