"""The whole MES loop end to end: Odoo (server + queue_job runner), its own Mosquitto, the
`odoo mfg_mqtt` listener process, and bench/plant_sim.py playing the MES.

Odoo confirms a manufacturing order -> the release goes out over MQTT -> the simulator answers
with operation status, consumption, scrap, downtime and completion -> the MO is done in Odoo.
Nothing is mocked; outcomes are read from the database.
"""

import sys
import time
import uuid
from pathlib import Path

import pytest
from mqtt_support import Broker, ListenerProcess, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from plant_sim import PlantSimulator

MES_TYPES = (
    "work_order_release",
    "material_consumption",
    "production_completion",
    "scrap",
    "operation_status",
    "downtime",
)
TIMEOUT = 180


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture
def plant(odoo_env, broker):
    """A plant of its own: a warehouse (so no other backend gets its releases), an MES backend on
    the test's broker with the MES flows (release published over MQTT), a lot-tracked finished
    product made of a lot-tracked component (lot in stock) and a component in kg, one operation."""
    suffix = uuid.uuid4().hex[:6].upper()
    with odoo_env() as env:
        from odoo.fields import Command

        company = env.company
        warehouse = env["stock.warehouse"].create(
            {"name": f"Sim plant {suffix}", "code": f"S{suffix[:4]}", "company_id": company.id}
        )
        flows = [
            Command.create(
                {
                    "exchange_type_id": env.ref(f"mfg_mes_connector.exchange_type_{code}").id,
                    **({"transport": "mqtt"} if code == "work_order_release" else {}),
                }
            )
            for code in MES_TYPES
        ]
        backend = env["mfg.backend"].create(
            {
                "name": f"Sim MES {suffix}",
                "code": f"sim-{suffix.lower()}",
                "plant_code": f"P{suffix}",
                "system_kind": "mes",
                "warehouse_id": warehouse.id,
                "mqtt_enabled": True,
                "mqtt_port": broker.port,
                "flow_ids": flows,
            }
        )
        kg = env.ref("uom.product_uom_kgm")
        Product = env["product.product"]
        finished = Product.create(
            {
                "name": f"Pump {suffix}",
                "default_code": f"PUMP-{suffix}",
                "is_storable": True,
                "tracking": "lot",
            }
        )
        housing = Product.create(
            {
                "name": f"Housing {suffix}",
                "default_code": f"HOUS-{suffix}",
                "is_storable": True,
                "tracking": "lot",
            }
        )
        resin = Product.create(
            {
                "name": f"Resin {suffix}",
                "default_code": f"RES-{suffix}",
                "is_storable": True,
                "uom_id": kg.id,
                "uom_po_id": kg.id,
            }
        )
        lot = env["stock.lot"].create(
            {"name": f"HL-{suffix}", "product_id": housing.id, "company_id": company.id}
        )
        Quant = env["stock.quant"]
        Quant._update_available_quantity(housing, warehouse.lot_stock_id, 100, lot_id=lot)
        Quant._update_available_quantity(resin, warehouse.lot_stock_id, 100)
        workcenter = env["mrp.workcenter"].create({"name": f"Line {suffix}", "code": f"WC-{suffix}"})
        bom = env["mrp.bom"].create(
            {
                "product_tmpl_id": finished.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [
                    Command.create({"product_id": housing.id, "product_qty": 1}),
                    Command.create({"product_id": resin.id, "product_qty": 0.5, "product_uom_id": kg.id}),
                ],
                "operation_ids": [
                    Command.create(
                        {
                            "name": "Assemble",
                            "workcenter_id": workcenter.id,
                            "time_cycle_manual": 6,
                            "sequence": 10,
                        }
                    )
                ],
            }
        )
        tag = env["stock.scrap.reason.tag"].create({"name": f"Damaged {suffix}"})
        env["mfg.code.mapping"].create(
            {
                "backend_id": backend.id,
                "kind": "scrap_reason",
                "external_code": "DMG",
                "target": f"{tag._name},{tag.id}",
            }
        )
        info = {
            "suffix": suffix,
            "backend_id": backend.id,
            "plant_code": backend.plant_code,
            "subscribed": f"subscribed to {backend.mqtt_inbound_topic}",
            "warehouse_id": warehouse.id,
            "picking_type_id": warehouse.manu_type_id.id,
            "finished_id": finished.id,
            "housing": housing.default_code,
            "resin": resin.default_code,
            "housing_lot": lot.name,
            "bom_id": bom.id,
            "scrap_tag_id": tag.id,
        }
    yield info
    with odoo_env() as env:
        env["mfg.backend"].browse(info["backend_id"]).write({"mqtt_enabled": False, "active": False})


@pytest.fixture
def listener(odoo_settings, plant):
    lp = ListenerProcess(odoo_settings, f"sim{plant['suffix'].lower()}", odoo_settings["log_dir"])
    lp.start(wait_for=plant["subscribed"])
    yield lp
    lp.kill()


@pytest.fixture
def simulator(broker, plant):
    """bench/plant_sim.py's PlantSimulator in a thread, subscribed to the plant's releases."""
    started = []

    def make(**options):
        lines = []
        sim = PlantSimulator(
            port=broker.port,
            plant=plant["plant_code"],
            system="mes",
            rate=0,
            seed=7,
            client_id=f"sim-{plant['suffix']}-{len(started)}",
            id_prefix=f"sim{plant['suffix']}",
            scrap_reason="DMG",
            log=lines.append,
            **options,
        )
        sim.lines = lines
        started.append(sim)
        sim.start().wait_subscribed()
        return sim

    yield make
    for sim in started:
        sim.stop()


def confirm_mo(odoo_env, plant, qty=2):
    """Create and confirm an MO (committed): Odoo writes the release in its outbox."""
    with odoo_env() as env:
        mo = env["mrp.production"].create(
            {
                "product_id": plant["finished_id"],
                "product_qty": qty,
                "bom_id": plant["bom_id"],
                "picking_type_id": plant["picking_type_id"],
            }
        )
        mo.action_confirm()
        assert mo.state == "confirmed", mo.state
        return mo.id, mo.name


def messages(sql, plant):
    """(direction, type code, state, external id, error) of the backend's messages, oldest first."""
    return sql(
        """SELECT m.direction, t.code, m.state, m.external_id, coalesce(m.error_message, '')
             FROM mfg_message m JOIN mfg_exchange_type t ON t.id = m.exchange_type_id
            WHERE m.backend_id = %s ORDER BY m.id""",
        (plant["backend_id"],),
    )


def settled(sql, plant, mo_ids, expected_inbound):
    """True once every given MO is done and the backend has the expected inbound messages, none
    of them waiting; or as soon as a message failed (the caller's checks then show which, why)."""
    rows = messages(sql, plant)
    if any(r[2] in ("failed", "dead", "rejected") for r in rows):
        return True
    states = sql("SELECT state FROM mrp_production WHERE id IN %s", (tuple(mo_ids),))
    if any(state != "done" for (state,) in states):
        return False
    inbound = [r for r in rows if r[0] == "inbound"]
    waiting = [r for r in rows if r[2] in ("received", "queued", "retrying")]
    return len(inbound) >= expected_inbound and not waiting


def mo_outcome(sql, mo_id):
    """What a planner checks on a finished MO: state, produced quantity and lot, components consumed
    (product code, lot, quantity), scrap orders, work orders, downtime lines."""
    state, qty_produced, produced_lot = sql(
        """SELECT p.state, p.qty_producing, l.name FROM mrp_production p
             LEFT JOIN stock_lot l ON l.id = p.lot_producing_id WHERE p.id = %s""",
        (mo_id,),
    )[0]
    consumed = sql(
        """SELECT pp.default_code, coalesce(l.name, ''), sum(ml.quantity)
             FROM stock_move m
             JOIN stock_move_line ml ON ml.move_id = m.id
             JOIN product_product pp ON pp.id = m.product_id
             LEFT JOIN stock_lot l ON l.id = ml.lot_id
            WHERE m.raw_material_production_id = %s AND m.state = 'done' AND NOT m.scrapped
            GROUP BY 1, 2 ORDER BY 1, 2""",
        (mo_id,),
    )
    finished = sql(
        """SELECT coalesce(l.name, ''), sum(ml.quantity) FROM stock_move m
             JOIN stock_move_line ml ON ml.move_id = m.id
             LEFT JOIN stock_lot l ON l.id = ml.lot_id
            WHERE m.production_id = %s AND m.state = 'done' GROUP BY 1""",
        (mo_id,),
    )
    scraps = sql(
        """SELECT pp.default_code, coalesce(l.name, ''), s.scrap_qty, s.state,
                  (SELECT array_agg(r.stock_scrap_reason_tag_id) FROM stock_scrap_stock_scrap_reason_tag_rel r
                    WHERE r.stock_scrap_id = s.id)
             FROM stock_scrap s JOIN product_product pp ON pp.id = s.product_id
             LEFT JOIN stock_lot l ON l.id = s.lot_id
            WHERE s.production_id = %s ORDER BY s.id""",
        (mo_id,),
    )
    workorders = sql("SELECT state FROM mrp_workorder WHERE production_id = %s", (mo_id,))
    downtimes = sql(
        """SELECT loss.name->>'en_US' FROM mrp_workcenter_productivity t
             JOIN mrp_workorder w ON w.id = t.workorder_id
             JOIN mrp_workcenter_productivity_loss loss ON loss.id = t.loss_id
            WHERE w.production_id = %s AND loss.loss_type = 'availability'""",
        (mo_id,),
    )
    return {
        "state": state,
        "qty_producing": float(qty_produced),
        "produced_lot": produced_lot,
        "finished": [(lot, float(q)) for lot, q in finished],
        "consumed": [(code, lot, float(q)) for code, lot, q in consumed],
        "scraps": [(code, lot, float(q), st, tags) for code, lot, q, st, tags in scraps],
        "workorders": sorted(s for (s,) in workorders),
        "downtimes": sorted(n for (n,) in downtimes),
    }


def _diagnose(sql, plant, sim, listener):
    return "\n".join(
        [
            "messages: " + "\n  ".join(map(str, messages(sql, plant))),
            "simulator: " + "\n  ".join(sim.lines[-30:]),
            "listener: " + listener.tail(15),
        ]
    )


def test_full_loop_release_to_done_over_mqtt(odoo_server, odoo_env, plant, listener, simulator, sql):
    sim = simulator(scrap_rate=1, downtime_rate=1)
    mo_id, mo_name = confirm_mo(odoo_env, plant, qty=2)
    # the release went out over MQTT and the plant got it
    assert sim.wait_orders(1, timeout=TIMEOUT), _diagnose(sql, plant, sim, listener)
    assert sim.orders == [mo_name]
    facts = {data["message_id"] for _topic, data, _note in sim.published}
    # started, 2 consumptions, scrap, downtime, finished, completion
    assert len(facts) == 7, sim.lines
    assert wait_until(lambda: settled(sql, plant, [mo_id], 7), timeout=TIMEOUT), _diagnose(
        sql, plant, sim, listener
    )
    rows = messages(sql, plant)
    assert [r for r in rows if r[2] != "done"] == [], rows
    assert {r[3] for r in rows if r[0] == "inbound"} == facts
    (release,) = [r for r in rows if r[0] == "outbound"]
    assert release[1] == "erp.work_order_release"

    outcome = mo_outcome(sql, mo_id)
    lot_name = "LOT-" + mo_name.replace("/", "-")
    assert outcome["state"] == "done"
    assert outcome["qty_producing"] == 2
    assert outcome["produced_lot"] == lot_name
    assert outcome["finished"] == [(lot_name, 2.0)]
    # both components consumed, the tracked one from the lot reserved at confirmation
    assert outcome["consumed"] == [(plant["housing"], plant["housing_lot"], 2.0), (plant["resin"], "", 1.0)]
    assert outcome["scraps"] == [
        (plant["housing"], plant["housing_lot"], 1.0, "done", [plant["scrap_tag_id"]])
    ]
    assert outcome["workorders"] == ["done"]
    assert outcome["downtimes"] == ["Equipment Failure"]


def test_completion_before_consumption_ends_as_in_order(
    odoo_server, odoo_env, plant, listener, simulator, sql
):
    """The plant publishes one order's completion before its consumption: the MO ends in the same
    state as an order reported in order (same lots and quantities consumed, done)."""
    # the plant consumes 50% more than the BoM: what Odoo would consume by itself at completion
    # (BoM quantities) differs from what the plant reports
    sim = simulator(consumption_factor=1.5)
    in_order_id, in_order_name = confirm_mo(odoo_env, plant)
    assert sim.wait_orders(1, timeout=TIMEOUT), _diagnose(sql, plant, sim, listener)
    assert wait_until(lambda: settled(sql, plant, [in_order_id], 5), timeout=TIMEOUT), _diagnose(
        sql, plant, sim, listener
    )
    sim.rates["out_of_order"] = 1.0
    late_id, late_name = confirm_mo(odoo_env, plant)
    assert sim.wait_orders(2, timeout=TIMEOUT), _diagnose(sql, plant, sim, listener)
    # on the wire: the late order's completion came before its consumption
    codes = [topic.rsplit("/", 1)[-1] for topic, data, _n in sim.published if data["work_order"] == late_name]
    assert codes.index("mes.production_completion") < codes.index("mes.material_consumption"), codes
    assert wait_until(lambda: settled(sql, plant, [in_order_id, late_id], 10), timeout=TIMEOUT), _diagnose(
        sql, plant, sim, listener
    )
    rows = messages(sql, plant)
    assert [r for r in rows if r[2] != "done"] == [], rows

    in_order, late = mo_outcome(sql, in_order_id), mo_outcome(sql, late_id)
    for outcome, name in ((in_order, in_order_name), (late, late_name)):
        assert outcome.pop("produced_lot") == "LOT-" + name.replace("/", "-")
        outcome.pop("finished")
    assert late == in_order
    assert late["consumed"] == [(plant["housing"], plant["housing_lot"], 3.0), (plant["resin"], "", 1.5)]
    assert late["state"] == "done"


def test_duplicates_from_the_plant_are_applied_once(odoo_server, odoo_env, plant, listener, simulator, sql):
    sim = simulator(duplicate_rate=1, scrap_rate=1, downtime_rate=1)
    mo_id, mo_name = confirm_mo(odoo_env, plant, qty=2)
    assert sim.wait_orders(1, timeout=TIMEOUT), _diagnose(sql, plant, sim, listener)
    ids = [data["message_id"] for _topic, data, _note in sim.published]
    assert len(ids) == 14 and len(set(ids)) == 7, sim.lines  # every fact sent twice
    assert wait_until(lambda: settled(sql, plant, [mo_id], 7), timeout=TIMEOUT), _diagnose(
        sql, plant, sim, listener
    )
    time.sleep(3)  # whatever could still arrive: nothing more may be stored
    rows = messages(sql, plant)
    inbound = [r for r in rows if r[0] == "inbound"]
    assert len(inbound) == 7 and {r[3] for r in inbound} == set(ids), rows
    assert all(r[2] == "done" for r in rows), rows

    outcome = mo_outcome(sql, mo_id)
    assert outcome["state"] == "done"
    assert outcome["qty_producing"] == 2
    assert outcome["consumed"] == [(plant["housing"], plant["housing_lot"], 2.0), (plant["resin"], "", 1.0)]
    assert len(outcome["scraps"]) == 1 and outcome["scraps"][0][2] == 1.0
    assert outcome["downtimes"] == ["Equipment Failure"]
