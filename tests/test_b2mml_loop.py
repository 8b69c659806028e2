"""The MES loop of test_mes_loop.py with an MES that speaks B2MML both ways: Odoo confirms a
manufacturing order -> the release goes out over MQTT as a B2MML V0700 SyncOperationsSchedule
(checked against the XSD before it is sent) -> bench/plant_sim.py --wire b2mml reads it and answers
with SyncOperationsPerformance documents (consumption, scrap, completion) -> Odoo decodes them into
facts -> the MO is done with the quantities and lots the plant reported. Nothing is mocked."""

import json

import pytest
from mqtt_support import wait_until
from test_mes_loop import (  # noqa: F401 (fixtures)
    TIMEOUT,
    _diagnose,
    broker,
    confirm_mo,
    listener,
    messages,
    mo_outcome,
    plant,
    simulator,
)

B2MML_NS = "http://www.mesa.org/xml/B2MML"


@pytest.fixture
def b2mml_plant(odoo_env, plant):  # noqa: F811
    """The simulator plant's backend in B2MML: the release flow sends B2MML (validated against the
    V0700 XSD), the plant's documents arrive on the b2mml.document flow."""
    with odoo_env() as env:
        backend = env["mfg.backend"].browse(plant["backend_id"])
        release = env.ref("mfg_mes_connector.exchange_type_work_order_release")
        backend._mfg_flow(release).wire_format = "b2mml"
        backend.b2mml_validate_outbound = True
        env["mfg.backend.flow"].create(
            {
                "backend_id": backend.id,
                "exchange_type_id": env.ref("mfg_b2mml.exchange_type_b2mml_document").id,
                "wire_format": "b2mml",
            }
        )
    return plant


def b2mml_settled(sql, site, mo_id, documents, facts):
    rows = messages(sql, site)
    if any(r[2] in ("failed", "dead", "rejected") for r in rows):
        return True
    (state,) = sql("SELECT state FROM mrp_production WHERE id = %s", (mo_id,))[0]
    inbound = [r for r in rows if r[0] == "inbound"]
    waiting = [r for r in rows if r[2] in ("received", "queued", "retrying")]
    return state == "done" and len(inbound) >= documents + facts and not waiting


def test_b2mml_both_ways_release_to_done_over_mqtt(
    odoo_server,
    odoo_env,
    b2mml_plant,
    listener,  # noqa: F811
    simulator,  # noqa: F811
    sql,
):
    site = b2mml_plant
    sim = simulator(wire="b2mml", scrap_rate=1, downtime_rate=1)
    mo_id, mo_name = confirm_mo(odoo_env, site, qty=2)
    assert sim.wait_orders(1, timeout=TIMEOUT), _diagnose(sql, site, sim, listener)
    # the plant read the B2MML release: it played the MO Odoo released
    assert sim.orders == [mo_name]
    bodids = [data["message_id"] for _topic, data, _note in sim.published]
    # 2 consumptions, a scrap, the completion: one document each (status and downtime: none in B2MML)
    assert len(bodids) == 4, sim.lines
    assert {topic.rsplit("/", 1)[-1] for topic, _d, _n in sim.published} == {"b2mml.document"}
    assert wait_until(lambda: b2mml_settled(sql, site, mo_id, 4, 4), timeout=TIMEOUT), _diagnose(
        sql, site, sim, listener
    )
    rows = messages(sql, site)
    assert [r for r in rows if r[2] != "done"] == [], rows
    documents = [r for r in rows if r[0] == "inbound" and r[1] == "b2mml.document"]
    facts = [r for r in rows if r[0] == "inbound" and r[1] != "b2mml.document"]
    assert sorted(r[3] for r in documents) == sorted(bodids)
    assert sorted(r[3] for r in facts) == sorted(f"{b}#1" for b in bodids)
    assert sorted(r[1] for r in facts) == [
        "mes.material_consumption",
        "mes.material_consumption",
        "mes.production_completion",
        "mes.scrap",
    ]

    # the release: canonical JSON kept, the B2MML document sent beside it
    ((payload, wire_payload, wire_format, response),) = sql(
        """SELECT m.payload, m.wire_payload, m.wire_format_sent, m.response FROM mfg_message m
             JOIN mfg_exchange_type t ON t.id = m.exchange_type_id
            WHERE m.backend_id = %s AND m.direction = 'outbound' AND t.code = 'erp.work_order_release'""",
        (site["backend_id"],),
    )
    assert json.loads(payload)["work_order"] == mo_name
    assert wire_format == "b2mml"
    assert f'<SyncOperationsSchedule xmlns="{B2MML_NS}"' in wire_payload
    assert f"<ID>{mo_name}</ID>" in wire_payload
    assert response.startswith("published on ")

    outcome = mo_outcome(sql, mo_id)
    lot_name = "LOT-" + mo_name.replace("/", "-")
    assert outcome["state"] == "done"
    assert outcome["qty_producing"] == 2
    assert outcome["produced_lot"] == lot_name
    assert outcome["finished"] == [(lot_name, 2.0)]
    assert outcome["consumed"] == [(site["housing"], site["housing_lot"], 2.0), (site["resin"], "", 1.0)]
    assert outcome["scraps"] == [(site["housing"], site["housing_lot"], 1.0, "done", [site["scrap_tag_id"]])]
