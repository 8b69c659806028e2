"""Sparkplug B end to end: a real Mosquitto, a real `odoo mfg_mqtt` listener (the primary host),
the Odoo server with its queue_job runner applying the facts, and bench/sparkplug_sim.py playing an
edge node. Outcomes are read from the database; waits are on conditions, with timeouts."""

import json
import sys
import time
import uuid
from datetime import UTC
from pathlib import Path

import pytest
from mqtt_support import Broker, ListenerProcess, Subscriber, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from sparkplug_sim import EdgeNode

TIMEOUT = 120


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture
def listener(odoo_settings):
    started = []

    def make():
        lp = ListenerProcess(odoo_settings, f"sp{uuid.uuid4().hex[:6]}", odoo_settings["log_dir"])
        started.append(lp)
        return lp

    yield make
    for lp in started:
        lp.kill()


@pytest.fixture
def plant(odoo_env, broker):
    """A Sparkplug backend on the test's broker (group of its own, flush every second) with the MES
    flows and a metric map; a work center coded like the simulated device; a manufacturing order
    whose operation on that work center is in progress."""
    suffix = uuid.uuid4().hex[:6].upper()
    device = f"M{suffix}"
    with odoo_env() as env:
        from odoo.fields import Command

        flows = [
            Command.create({"exchange_type_id": env.ref(f"mfg_mes_connector.exchange_type_{code}").id})
            for code in ("downtime", "production_completion", "scrap")
        ]
        backend = env["mfg.backend"].create(
            {
                "name": f"Sparkplug plant {suffix}",
                "code": f"sp-{suffix.lower()}",
                "plant_code": f"P{suffix}",
                "system_kind": "mes",
                "mqtt_enabled": True,
                "mqtt_port": broker.port,
                "sparkplug_enabled": True,
                "sparkplug_group": f"G{suffix}",
                "sparkplug_flush_seconds": 1,
                "flow_ids": flows,
                "sparkplug_rule_ids": [
                    Command.create({"metric": "Machine/State", "kind": "state", "state_map": "2=BRK"}),
                    Command.create({"metric": "Counts/Good", "kind": "good_count"}),
                    Command.create({"metric": "Counts/Reject", "kind": "reject_count"}),
                ],
            }
        )
        workcenter = env["mrp.workcenter"].create({"name": f"Press {suffix}", "code": device})
        loss_type = env["mrp.workcenter.productivity.loss.type"].search(
            [("loss_type", "=", "availability")], limit=1
        )
        loss = env["mrp.workcenter.productivity.loss"].create(
            {"name": f"Breakdown {suffix}", "loss_id": loss_type.id}
        )
        env["mfg.code.mapping"].create(
            {
                "backend_id": backend.id,
                "kind": "loss_reason",
                "external_code": "BRK",
                "target": f"{loss._name},{loss.id}",
            }
        )
        product = env["product.product"].create({"name": f"Bracket {suffix}", "default_code": f"BR-{suffix}"})
        bom = env["mrp.bom"].create(
            {
                "product_tmpl_id": product.product_tmpl_id.id,
                "product_qty": 1,
                "operation_ids": [
                    Command.create({"name": "Press", "workcenter_id": workcenter.id, "time_cycle_manual": 1})
                ],
            }
        )
        production = env["mrp.production"].create(
            {"product_id": product.id, "product_qty": 100, "bom_id": bom.id}
        )
        production.action_confirm()
        production.workorder_ids.button_start()
        info = {
            "backend_id": backend.id,
            "group": backend.sparkplug_group,
            "host_id": backend._mfg_sparkplug_host_id(),
            "device": device,
            "workcenter_id": workcenter.id,
            "loss_id": loss.id,
            "production": production.name,
            "production_id": production.id,
        }
    yield info
    with odoo_env() as env:
        env["mfg.backend"].browse(info["backend_id"]).write({"mqtt_enabled": False})


def node_row(sql, plant, device=None):
    rows = sql(
        """SELECT online, last_seq, bd_seq, rebirths_requested, metrics_applied, metrics_counted,
                  malformed_count, last_issue, last_birth_at IS NOT NULL
             FROM mfg_sparkplug_node WHERE backend_id = %s AND edge_node = 'Line1'
              AND coalesce(device, '') = %s""",
        (plant["backend_id"], device or ""),
    )
    if not rows:
        return None
    keys = ("online", "last_seq", "bd_seq", "rebirths", "applied", "counted", "malformed", "issue", "born")
    return dict(zip(keys, rows[0]))


def facts(sql, plant, contract):
    return sql(
        """SELECT m.state, m.payload, m.error_message FROM mfg_message m
             JOIN mfg_exchange_type t ON t.id = m.exchange_type_id
            WHERE m.backend_id = %s AND t.code = %s ORDER BY m.id""",
        (plant["backend_id"], contract),
    )


def start(listener, broker, plant, answer_rebirth=True):
    lp = listener().start(wait_for=f"primary host {plant['host_id']} of group {plant['group']}")
    node = EdgeNode("127.0.0.1", broker.port, plant["group"], "Line1", [plant["device"]], qos=1).connect()
    node.answer_rebirth = answer_rebirth
    return lp, node


def test_births_then_data_become_downtime_and_produced_quantity(plant, odoo_server, broker, listener, sql):
    lp, node = start(listener, broker, plant)
    state = Subscriber(broker.port, f"spBv1.0/STATE/{plant['host_id']}", f"state-{uuid.uuid4().hex[:6]}")
    assert wait_until(lambda: state.messages, timeout=30)
    assert json.loads(state.messages[-1].payload)["online"] is True and state.messages[-1].retain
    state.close()
    device = plant["device"]
    node.birth()  # Counts/Good 0, Machine/State 1 (running)
    t0 = int(time.time() * 1000)
    node.data(device, {"Machine/State": 2}, timestamp=t0 + 2)  # breakdown ...
    node.data(device, {"Machine/State": 2, "Temperature": 30.5}, timestamp=t0 + 3)  # (repeated: no new fact)
    node.data(device, {"Machine/State": 1}, timestamp=t0 + 90_002)  # ... for 90 s
    # one counter update only, so that one flush holds it whatever the timing (sums: unit tests)
    node.data(device, {"Counts/Good": 7, "Counts/Reject": 1}, timestamp=t0 + 90_003)
    # the productivity line of the downtime, on the right work center, with start and end
    lines = lambda: sql(  # noqa: E731
        """SELECT date_start, date_end, loss_id FROM mrp_workcenter_productivity
            WHERE workcenter_id = %s AND loss_id = %s""",
        (plant["workcenter_id"], plant["loss_id"]),
    )
    assert wait_until(lines, timeout=TIMEOUT), (facts(sql, plant, "mes.downtime"), lp.tail())
    [(date_start, date_end, _loss)] = lines()
    assert round((date_end - date_start).total_seconds()) == 90
    # the produced quantity on the running manufacturing order (partial: the rest in a backorder)
    produced = lambda: sql(  # noqa: E731
        "SELECT state, qty_producing FROM mrp_production WHERE id = %s", (plant["production_id"],)
    )[0]
    assert wait_until(lambda: produced()[0] == "done", timeout=TIMEOUT), (
        facts(sql, plant, "mes.production_completion"),
        lp.tail(),
    )
    assert produced() == ("done", 7)
    [(scrap_state, scrap_payload, scrap_error)] = facts(sql, plant, "mes.scrap")
    assert json.loads(scrap_payload)["quantity"] == 1, scrap_error
    # one fact per state change and per counter flush, not one message per metric update
    assert len(facts(sql, plant, "mes.downtime")) == 1
    assert len(facts(sql, plant, "mes.production_completion")) == 1
    row = node_row(sql, plant, device)
    assert row["online"] and row["born"] and row["counted"] >= 2  # Temperature: birth + one update
    node.close()
    assert lp.alive


def test_sequence_gap_asks_one_rebirth_and_applies_nothing_of_the_gap(
    plant, odoo_server, broker, listener, sql
):
    lp, node = start(listener, broker, plant, answer_rebirth=False)
    ncmd = Subscriber(broker.port, f"spBv1.0/{plant['group']}/NCMD/Line1", f"ncmd-{uuid.uuid4().hex[:6]}")
    device = plant["device"]
    node.birth()
    assert wait_until(lambda: (node_row(sql, plant, device) or {}).get("online"), timeout=TIMEOUT), lp.tail()
    node.skip_seq()  # a message is lost
    for value in (5, 9, 12):
        node.data(device, {"Counts/Good": value}).wait_for_publish(10)
    assert wait_until(lambda: node.rebirth_requests >= 1, timeout=TIMEOUT), lp.tail()
    # the listener wrote the request and what it ignored (flushes follow every second)
    assert wait_until(lambda: (node_row(sql, plant) or {}).get("rebirths") == 1, timeout=TIMEOUT), lp.tail()
    assert wait_until(
        lambda: "waiting for the requested rebirth"
        in ((node_row(sql, plant, device) or {}).get("issue") or ""),
        timeout=TIMEOUT,
    )
    assert len(ncmd.messages) == 1
    assert node.rebirth_requests == 1
    assert facts(sql, plant, "mes.production_completion") == []
    # the edge node answers with a new birth: data is applied again. The counter is absolute: the
    # birth says 12 (what was made during the gap, counted once, now that the state is known),
    # then 14. One or two facts depending on the flushes; their quantities add up to 14.
    node.birth()
    node.data(device, {"Counts/Good": 14}).wait_for_publish(10)

    def produced():
        return sum(json.loads(p)["quantity"] for _s, p, _e in facts(sql, plant, "mes.production_completion"))

    assert wait_until(lambda: produced() == 14, timeout=TIMEOUT), (produced(), lp.tail())
    assert len(ncmd.messages) == 1
    ncmd.close()
    node.close()


def test_deaths_data_before_birth_and_malformed_payloads(plant, odoo_server, broker, listener, sql):
    lp, node = start(listener, broker, plant, answer_rebirth=False)
    device = plant["device"]
    # data before any birth: a rebirth is requested, nothing applied
    node.seq = 10
    node.aliases[(device, "Counts/Good")] = 2
    node.data(device, {"Counts/Good": 50}).wait_for_publish(10)
    assert wait_until(lambda: node.rebirth_requests == 1, timeout=TIMEOUT), lp.tail()
    assert wait_until(lambda: (node_row(sql, plant) or {}).get("rebirths") == 1, timeout=TIMEOUT)
    assert not (node_row(sql, plant, device) or {}).get("applied")
    node.birth()
    assert wait_until(lambda: (node_row(sql, plant, device) or {}).get("online"), timeout=TIMEOUT), lp.tail()
    assert node_row(sql, plant)["bd_seq"] == 0
    # a malformed payload: kept rejected, counted, the listener goes on
    node.raw("NDATA", b"\xff\xfe\x00 not protobuf").wait_for_publish(10)
    assert wait_until(lambda: (node_row(sql, plant) or {}).get("malformed") == 1, timeout=TIMEOUT), lp.tail()
    rejected = sql(
        "SELECT error_message FROM mfg_message WHERE backend_id = %s AND state = 'rejected'",
        (plant["backend_id"],),
    )
    assert any("not a Sparkplug B protobuf message" in (r[0] or "") for r in rejected), rejected
    assert lp.alive
    # device death, then node death: offline on the records
    node.birth()  # the malformed message broke the sequence: start clean
    node.ddeath(device).wait_for_publish(10)
    assert wait_until(lambda: node_row(sql, plant, device)["online"] is False, timeout=TIMEOUT), lp.tail()
    assert node_row(sql, plant)["online"] is True
    node.ndeath().wait_for_publish(10)
    assert wait_until(lambda: node_row(sql, plant)["online"] is False, timeout=TIMEOUT), lp.tail()
    node.close()
    assert lp.alive


def test_listener_killed_and_restarted_gets_the_backfill_once_in_order(
    plant, odoo_server, broker, listener, sql, odoo_env
):
    """Store and forward: the listener (primary host) is killed -9; its will says the host is
    offline; the edge node stores a whole downtime and counter increments; the listener restarts,
    the edge node sends a new birth and then the stored data as historical. The downtime appears
    once with its own start and end, the produced quantities add up to the counter exactly. The
    good-parts counter reports progress: the order stays open and its quantity producing is the
    counter's increase."""
    with odoo_env() as env:
        backend = env["mfg.backend"].browse(plant["backend_id"])
        backend.sparkplug_rule_ids.filtered(lambda r: r.metric == "Counts/Good").kind = "good_progress"
        progress = env.ref("mfg_mes_connector.exchange_type_production_progress")
        backend.write({"flow_ids": [(0, 0, {"exchange_type_id": progress.id})]})
    lp = listener().start(wait_for=f"primary host {plant['host_id']} of group {plant['group']}")
    device = plant["device"]
    node = EdgeNode(
        "127.0.0.1", broker.port, plant["group"], "Line1", [device], qos=1, primary_host=plant["host_id"]
    ).connect()
    assert node.host_online.wait(30), lp.tail()
    now = int(time.time() * 1000)
    t0 = now - 600_000  # timestamps in the past: older than the birth after the restart
    node.birth(timestamp=t0)  # Counts/Good 0, Machine/State 1 (running)

    def produced():
        return sum(json.loads(p)["quantity"] for _s, p, _e in facts(sql, plant, "mes.production_progress"))

    def saved():
        rows = sql(
            "SELECT rule_state FROM mfg_sparkplug_node WHERE backend_id = %s AND device = %s",
            (plant["backend_id"], device),
        )
        return json.loads((rows and rows[0][0]) or "{}")

    # the host knows the machine: running, 0 parts (the birth's checkpoint)
    assert wait_until(
        lambda: f"Line1/{device}/Counts/Good" in saved().get("state", {}), timeout=TIMEOUT
    ), lp.tail()
    lp.kill()  # -9: no clean offline STATE, the broker publishes the will
    assert wait_until(node.host_offline.is_set, timeout=60)
    # while the host is away: a breakdown of 90 s, begun and ended, and 7 more parts
    assert node.data(device, {"Machine/State": 2, "Counts/Good": 8}, timestamp=t0 + 100_000) is None
    node.data(device, {"Machine/State": 1, "Counts/Good": 12}, timestamp=t0 + 190_000)
    assert len(node.stored) == 2
    lp2 = listener().start(wait_for=f"primary host {plant['host_id']} of group {plant['group']}")
    assert node.forwarded.wait(60), lp2.tail()
    node.data(device, {"Counts/Good": 13}).wait_for_publish(10)  # live again
    lines = lambda: sql(  # noqa: E731
        """SELECT date_start, date_end FROM mrp_workcenter_productivity
            WHERE workcenter_id = %s AND loss_id = %s""",
        (plant["workcenter_id"], plant["loss_id"]),
    )
    assert wait_until(lines, timeout=TIMEOUT), (facts(sql, plant, "mes.downtime"), lp2.tail())
    assert wait_until(lambda: produced() == 13, timeout=TIMEOUT), (produced(), lp2.tail())
    [(date_start, date_end)] = lines()
    assert date_start.replace(tzinfo=UTC).timestamp() * 1000 == pytest.approx(t0 + 100_000, abs=1000)
    assert round((date_end - date_start).total_seconds()) == 90
    downtimes = facts(sql, plant, "mes.downtime")
    assert len(downtimes) == 1, downtimes
    # the historical updates were held until the live one, then applied: nothing waits any more
    assert saved()["pending"] == {}
    assert produced() == 13
    # applied on the running order, which stays open
    mo = lambda: sql(  # noqa: E731
        "SELECT state, qty_producing FROM mrp_production WHERE id = %s", (plant["production_id"],)
    )[0]
    assert wait_until(lambda: mo()[1] == 13, timeout=TIMEOUT), (
        mo(),
        facts(sql, plant, "mes.production_progress"),
    )
    assert mo() == ("progress", 13)
    node.close()
    assert lp2.alive
