"""The plant edge through a WAN cut: a plant broker bridged to the central broker (issue 18, item 1).

Made by the test, on this machine only (``plant_support.plant_lab``, removed whatever happens):

    plant namespace (mfgso<pid>-plant, 198.18.K.2)          root namespace (198.18.K.254 on the lab LAN)
      plant Mosquitto 127.0.0.1:1883                           central Mosquitto: 127.0.0.1:<port> (Odoo)
        config written by `odoo mfg_mqtt_bridge`  ──TLS──▶                        198.18.K.254:8883 (TLS,
        (bridge, client certificate of the plant)  ◀─────                          plant certificate required)
      publisher: facts at RATE/s (QoS 1)                       Odoo server + queue_job, `odoo mfg_mqtt`
      subscriber: work-order releases                          listener (backend on the central broker)

The WAN link is the plant's interface; the cut is ``ip link set <it> down`` after CUT_AFTER
seconds of publishing, for CUT_SECONDS, then up again. Every fact ends in Odoo once, in order per
work order (published ids == stored ids); a release made in Odoo during the cut (published to the
central broker, the plant unreachable) reaches the plant's subscriber once the link is back.

Scaled down from the issue's 50 facts/s for 3 min with a 2 min cut; parameters:
MFG_BRIDGE_RATE (50), MFG_BRIDGE_SECONDS (40), MFG_BRIDGE_CUT_AFTER (10), MFG_BRIDGE_CUT_SECONDS (20),
MFG_BRIDGE_PROTOCOL (mqttv311; mqttv50 fails: Mosquitto's MQTT 5 bridge keeps no session at the centre).
The cut and the restore are triggered by the publisher's progress (message counts), not by sleeps.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from mqtt_support import MOSQUITTO, wait_until
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from plant_support import CLIENT, KEEPALIVE, PLANT_PORT, plant_lab, read_json, read_lines

RATE = float(os.environ.get("MFG_BRIDGE_RATE", 50))
SECONDS = float(os.environ.get("MFG_BRIDGE_SECONDS", 40))
CUT_AFTER = float(os.environ.get("MFG_BRIDGE_CUT_AFTER", 10))
CUT_SECONDS = float(os.environ.get("MFG_BRIDGE_CUT_SECONDS", 20))
# mqttv50 shows why the generator defaults to 3.1.1: the release made during the cut is lost
PROTOCOL = os.environ.get("MFG_BRIDGE_PROTOCOL", "mqttv311")
COUNT = int(RATE * SECONDS)
ORDERS = 20  # work orders the facts are spread over (the ordering key)


@pytest.fixture
def plant_edge(odoo_server, odoo_settings, odoo_env, tmp_path):
    """The plant and the centre (plant_support.plant_lab), removed afterwards whatever happens."""
    with plant_lab(odoo_settings, odoo_env, tmp_path, rate=RATE, protocol=PROTOCOL) as edge:
        yield edge


def release(odoo_env, edge, event):
    """A work-order release made in Odoo (outbox → drain → MQTT publish on the central broker)."""
    with odoo_env() as env:
        msg = (
            env["mfg.backend"]
            .browse(edge["backend_id"])
            ._mfg_outbox(
                "test.order_notice", {"order": f"WO-{edge['suffix']}-0", "event": event}, ordering_key=event
            )
        )
        return msg.id


def released_events(edge):
    return [json.loads(m["payload"])["event"] for m in read_lines(edge["releases"]) if "payload" in m]


def tails(edge):
    log = edge["plant_log"].read_text(errors="replace") if edge["plant_log"].exists() else ""
    return {"plant broker": log[-2500:], "listener": edge["listener"].tail(20)}


@pytest.mark.parametrize("restart_plant_broker", [False, True], ids=["cut", "cut-and-plant-broker-restart"])
def test_wan_cut_plant_bridge_loses_nothing_and_releases_wait(
    plant_edge, odoo_env, sql, capsys, restart_plant_broker
):
    """``restart_plant_broker``: during the cut the plant broker is also stopped (SIGTERM) and
    started again: what waits for the bridge is on its disk (persistence, local_cleansession
    false) and the publisher and subscriber reconnect (a kill -9 would lose what arrived since
    the last autosave: Mosquitto's persistence is a snapshot)."""
    edge = plant_edge
    lab, watcher = edge["lab"], edge["watcher"]
    text = edge["generated"]
    assert f"topic mfg/B{edge['suffix']}/mes/+ out 1" in text and "cleansession false" in text, text
    assert (
        "bridge_insecure false" in text and f"bridge_certfile {edge['tmp']}/certs/{edge['code']}.crt" in text
    )

    # the way back works before the cut: a release reaches the plant
    first = release(odoo_env, edge, "before-cut")
    assert wait_until(lambda: "before-cut" in released_events(edge), timeout=60, interval=0.1), tails(edge)

    status = edge["tmp"] / "publisher.json"
    publisher = lab.spawn(
        "plant",
        [sys.executable, str(CLIENT), "publish", "--port", str(PLANT_PORT), "--topic", edge["topic"],
         "--prefix", edge["suffix"], "--product", edge["product"], "--count", str(COUNT), "--rate", str(RATE),
         "--orders", str(ORDERS), "--status", str(status)],
        edge["tmp"] / "publisher.log",
    )  # fmt: skip

    def published():
        return (read_json(status) or {}).get("published", 0)

    wan = f"{lab.ns['plant']}"
    link = f"mso{lab.pid}h0"  # the plant's interface (netns_support names it so)
    assert wait_until(lambda: published() >= CUT_AFTER * RATE, timeout=CUT_AFTER + 30, interval=0.05)
    subprocess.run(["ip", "-n", wan, "link", "set", link, "down"], check=True)
    t_cut = time.monotonic()
    at_cut = published()
    try:
        # the central broker notices (the bridge's will: '0'), then Odoo releases a work order
        assert wait_until(
            lambda: watcher.values[-1:] == ["0"], timeout=4 * KEEPALIVE, interval=0.1
        ), watcher.values
        during = release(odoo_env, edge, "during-cut")
        assert wait_until(
            lambda: sql("SELECT state FROM mfg_message WHERE id = %s", (during,))[0][0] == "done",
            timeout=60,
            interval=0.1,
        ), sql("SELECT state, error_message FROM mfg_message WHERE id = %s", (during,))
        # published on the central broker and acknowledged by it; the plant cannot have it yet
        assert "during-cut" not in released_events(edge)
        stored_during_cut = sql("SELECT count(*) FROM mfg_message WHERE backend_id = %s AND direction = 'inbound'",
                                (edge["backend_id"],))[0][0]  # fmt: skip
        if restart_plant_broker:
            old = edge["plant_broker"]
            old.send_signal(signal.SIGTERM)
            assert old.wait(timeout=60) == 0  # it writes its queues to disk on the way out
            edge["plant_broker"] = lab.spawn(
                "plant", [MOSQUITTO, "-c", str(edge["plant_conf"])], edge["tmp"] / "plant-broker.out"
            )

            def started():
                log = edge["plant_log"].read_text(errors="replace").splitlines()
                return (
                    sum(1 for line in log if "mosquitto version" in line and line.endswith(" running")) >= 2
                )

            assert wait_until(started, timeout=30, interval=0.1), tails(edge)
        assert wait_until(
            lambda: published() >= (CUT_AFTER + CUT_SECONDS) * RATE, timeout=CUT_SECONDS + 60, interval=0.05
        )
        stored_before_restore = sql(
            "SELECT count(*) FROM mfg_message WHERE backend_id = %s AND direction = 'inbound'",
            (edge["backend_id"],),
        )[0][0]
    finally:
        subprocess.run(["ip", "-n", wan, "link", "set", link, "up"], check=True)
    cut_s = time.monotonic() - t_cut
    at_restore = published()
    # nothing crossed while the link was down: what is stored was published before the cut (the
    # publisher's status is written every 10 messages)
    assert stored_before_restore <= at_cut + 10 < at_restore, (stored_before_restore, at_cut, at_restore)

    assert wait_until(lambda: "during-cut" in released_events(edge), timeout=60, interval=0.1), tails(edge)
    t_release_s = time.monotonic() - t_cut
    assert publisher.wait(timeout=SECONDS + 90) == 0, read_json(status)
    assert read_json(status)["acked"] >= COUNT

    def inbound():
        return dict(
            sql(
                """SELECT state, count(*) FROM mfg_message WHERE backend_id = %s AND direction = 'inbound'
                   GROUP BY 1""",
                (edge["backend_id"],),
            )
        )

    assert wait_until(lambda: inbound().get("done", 0) >= COUNT, timeout=180, interval=0.2), (
        inbound(),
        tails(edge),
    )
    assert inbound() == {"done": COUNT}, inbound()
    stored_ids = [
        r[0]
        for r in sql(
            "SELECT external_id FROM mfg_message WHERE backend_id = %s AND direction = 'inbound' ORDER BY id",
            (edge["backend_id"],),
        )
    ]
    published_ids = [f"{edge['suffix']}-{i}" for i in range(COUNT)]
    assert sorted(stored_ids) == sorted(published_ids) and len(stored_ids) == len(set(stored_ids))
    # stored in publishing order, and applied once each in that order per work order
    assert stored_ids == published_ids, [
        (a, b) for a, b in zip(stored_ids, published_ids, strict=True) if a != b
    ][:5]
    history = dict(
        sql("SELECT name, history FROM mfg_test_order WHERE name LIKE %s", (f"WO-{edge['suffix']}-%",))
    )
    expected = {
        f"WO-{edge['suffix']}-{k}": ",".join(str(i) for i in range(k, COUNT, ORDERS)) for k in range(ORDERS)
    }
    assert history == expected, {
        k: (history.get(k, "")[:80], v[:80]) for k, v in expected.items() if history.get(k) != v
    }
    events = released_events(edge)
    assert events.count("before-cut") >= 1 and events.count("during-cut") >= 1, events
    outbound = dict(sql("SELECT id, state FROM mfg_message WHERE id IN %s", ((first, during),)))
    assert outbound == {first: "done", during: "done"}, outbound
    assert watcher.values[-1] == "1", watcher.values
    with capsys.disabled():
        print(
            f"\n[plant bridge{' + plant broker restarted during the cut' if restart_plant_broker else ''}] {COUNT} facts at {RATE:g}/s over {SECONDS:g} s through the plant broker; WAN cut "
            f"after {at_cut} published, for {cut_s:.1f} s ({at_restore - at_cut} published during it; "
            f"{stored_during_cut} stored when the release was made, {stored_before_restore} at the restore); "
            f"all {COUNT} stored once, in order, applied per work order in order; release made during the cut "
            f"reached the plant {t_release_s - cut_s:.1f} s after the restore (received {events.count('during-cut')}x);"
            f" bridge state seen at the centre: {''.join(watcher.values)}"
        )


class RetainedReader:
    """A fresh subscriber on the central broker: what it is handed at once is what is retained."""

    def __init__(self, port, topic):
        self.got = {}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv311)
        self.client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
        self.client.on_message = lambda _c, _u, msg: self.got.__setitem__(
            msg.topic, (msg.payload, msg.retain)
        )
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def test_retained_messages_cross_the_bridge_both_ways(plant_edge, odoo_env, sql):
    """Reference data published retained by Odoo (before and during a cut) is retained at the plant
    broker once the link is back: a plant system (the edge agent) that subscribes later gets it.
    An edge agent's retained status published at the plant during the cut is retained at the
    centre. Both directions keep the retain flag (try_private: the central Mosquitto knows the
    bridge)."""
    edge = plant_edge
    lab, watcher, suffix = edge["lab"], edge["watcher"], edge["suffix"]
    base = f"mfg/B{suffix}/mes"
    text = edge["generated"]
    assert f"topic {base}/edge/# out 1" in text and f"topic {base}/files/# out 1" in text, text
    with odoo_env() as env:
        backend = env["mfg.backend"].browse(edge["backend_id"])
        backend.flow_ids.filtered(lambda f: f.direction == "outbound").mqtt_retained = True

    def done(msg_id):
        return sql("SELECT state FROM mfg_message WHERE id = %s", (msg_id,))[0][0] == "done"

    before = release(odoo_env, edge, "ref-before")
    assert wait_until(lambda: done(before), timeout=60, interval=0.1)
    wan, link = lab.ns["plant"], f"mso{lab.pid}h0"
    subprocess.run(["ip", "-n", wan, "link", "set", link, "down"], check=True)
    try:
        assert wait_until(lambda: watcher.values[-1:] == ["0"], timeout=4 * KEEPALIVE, interval=0.1)
        during = release(odoo_env, edge, "ref-during")
        assert wait_until(lambda: done(during), timeout=60, interval=0.1)
        status = json.dumps({"agent": "edge-1", "online": True, "link": "down"})
        put = lab.spawn(
            "plant",
            [sys.executable, str(CLIENT), "put", "--port", str(PLANT_PORT), "--topic",
             f"{base}/edge/edge-1/status", "--payload", status, "--retain"],
            edge["tmp"] / "plant-put.log",
        )  # fmt: skip
        assert put.wait(timeout=30) == 0
    finally:
        subprocess.run(["ip", "-n", wan, "link", "set", link, "up"], check=True)
    assert wait_until(lambda: watcher.values[-1:] == ["1"], timeout=60, interval=0.1), tails(edge)
    # the plant: a subscriber that comes after everything was published
    late = edge["tmp"] / "plant-late.jsonl"
    contract_topic = f"{base}/odoo/test.order_notice.v1"
    expected = {f"{contract_topic}/ref-before", f"{contract_topic}/ref-during"}

    def late_plant():
        return {m["topic"]: m["retain"] for m in read_lines(late) if "topic" in m}

    def plant_has_both():
        # the queued release comes across the bridge a moment after the link is up
        if expected <= set(late_plant()):
            return True
        lab.spawn(
            "plant",
            [sys.executable, str(CLIENT), "subscribe", "--port", str(PLANT_PORT), "--topic", f"{base}/odoo/#",
             "--client-id", f"late-{uuid.uuid4().hex[:8]}", "--out", str(late)],
            edge["tmp"] / "plant-late.log",
        )  # fmt: skip
        return wait_until(lambda: expected <= set(late_plant()), timeout=5, interval=0.1)

    assert wait_until(plant_has_both, timeout=60, interval=0.5), (late_plant(), tails(edge))
    assert all(late_plant()[topic] for topic in expected), late_plant()
    # the centre: the edge agent's status, retained (a fresh subscriber each try: one that was
    # already subscribed when it crossed would get it live, without the flag)
    status_topic = f"{base}/edge/edge-1/status"

    def centre_retained():
        reader = RetainedReader(edge["central"].port, f"{base}/edge/#")
        try:
            if wait_until(lambda: status_topic in reader.got, timeout=5, interval=0.1):
                return reader.got[status_topic]
            return None
        finally:
            reader.close()

    found = wait_until(centre_retained, timeout=60, interval=0.5)
    assert found, tails(edge)
    payload, retained_flag = found
    assert retained_flag and json.loads(payload)["agent"] == "edge-1", found
