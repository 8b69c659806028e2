"""MQTT transport end to end: real Mosquitto, real `odoo mfg_mqtt` listener processes,
the real Odoo server with its queue_job runner. Counts rows; nothing is mocked."""

import base64
import json
import os
import random
import threading
import time
import uuid
from pathlib import Path

import pytest
from mqtt_support import Broker, ListenerProcess, Publisher, Subscriber, make_tls_files, wait_until
from paho.mqtt.enums import MQTTProtocolVersion


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture
def listeners(odoo_settings):
    started = []

    def make(name=None, extra=()):
        lp = ListenerProcess(
            odoo_settings, name or f"l{uuid.uuid4().hex[:6]}", odoo_settings["log_dir"], extra
        )
        started.append(lp)
        return lp

    yield make
    for lp in started:
        lp.kill()


def make_plant(odoo_env, broker, shared_group=None, outbound=False, **backend_vals):
    suffix = uuid.uuid4().hex[:8]
    with odoo_env() as env:
        from odoo import fields

        flows = [
            fields.Command.create(
                {"exchange_type_id": env.ref("test_mfg_integration.exchange_type_order_report").id}
            )
        ]
        if outbound:
            flows.append(
                fields.Command.create(
                    {
                        "exchange_type_id": env.ref("test_mfg_integration.exchange_type_order_notice").id,
                        "transport": "mqtt",
                    }
                )
            )
        backend = env["mfg.backend"].create(
            {
                "name": f"MQTT plant {suffix}",
                "code": f"mq-{suffix}",
                "plant_code": f"P{suffix}",
                "system_kind": "mes",
                "mqtt_enabled": True,
                "mqtt_port": broker.port,
                "mqtt_shared_group": shared_group or False,
                "flow_ids": flows,
                **backend_vals,
            }
        )
        product = env["product.product"].create({"name": f"Part {suffix}", "default_code": f"PM-{suffix}"})
        info = {
            "backend_id": backend.id,
            "code": backend.code,
            "topic": f"mfg/P{suffix}/mes/test.order_report",
            "subscribed": f"subscribed to {backend.mqtt_inbound_topic}",
            "outbound_topic": f"mfg/P{suffix}/mes/odoo/test.order_notice.v1",
            "product": product.default_code,
            "suffix": suffix,
        }
    return info


@pytest.fixture
def plant_cleanup(odoo_env):
    ids = []
    yield ids
    with odoo_env() as env:
        env["mfg.backend"].browse(ids).write({"mqtt_enabled": False})


def payload(plant, i, order_mod=50, **extra):
    data = {
        "message_id": f"{plant['suffix']}-{i}",
        "order": f"MO-{plant['suffix']}-{i % order_mod}",
        "product": plant["product"],
        "quantity": 1,
        "step": str(i),
    }
    data.update(extra)
    return json.dumps(data)


def counts(sql, plant):
    rows = sql(
        """SELECT count(*), count(DISTINCT external_id), count(*) FILTER (WHERE state = 'done'),
                  count(*) FILTER (WHERE state = 'rejected')
             FROM mfg_message WHERE backend_id = %s""",
        (plant["backend_id"],),
    )
    total, distinct, done, rejected = rows[0]
    return {"total": total, "distinct": distinct, "done": done, "rejected": rejected}


def applied(sql, plant):
    return sql(
        "SELECT coalesce(sum(applied_count), 0) FROM mfg_test_order WHERE name LIKE %s",
        (f"MO-{plant['suffix']}-%",),
    )[0][0]


def test_1000_messages_end_to_end_to_done(odoo_server, odoo_env, broker, listeners, plant_cleanup, sql):
    plant = make_plant(odoo_env, broker)
    plant_cleanup.append(plant["backend_id"])
    listener = listeners().start(wait_for=plant["subscribed"])
    pub = Publisher(broker.port, f"plant-{plant['suffix']}")
    for i in range(1000):
        pub.publish(plant["topic"], payload(plant, i))
    assert pub.wait_acked(1000)
    pub.close()
    assert wait_until(lambda: counts(sql, plant)["done"] == 1000, timeout=240), (
        counts(sql, plant),
        listener.tail(),
    )
    c = counts(sql, plant)
    assert c == {"total": 1000, "distinct": 1000, "done": 1000, "rejected": 0}
    assert applied(sql, plant) == 1000
    assert listener.alive


def test_duplicate_storm_applied_once(odoo_server, odoo_env, broker, listeners, plant_cleanup, sql):
    plant = make_plant(odoo_env, broker)
    plant_cleanup.append(plant["backend_id"])
    listeners().start(wait_for=plant["subscribed"])
    pub = Publisher(broker.port, f"plant-{plant['suffix']}")
    n = 300
    for _round in range(3):
        for i in range(n):
            pub.publish(plant["topic"], payload(plant, i))
    assert pub.wait_acked(3 * n)
    pub.close()
    assert wait_until(lambda: counts(sql, plant)["done"] == n, timeout=180), counts(sql, plant)
    time.sleep(2)  # nothing more may arrive
    assert counts(sql, plant) == {"total": n, "distinct": n, "done": n, "rejected": 0}
    assert applied(sql, plant) == n


def test_garbage_is_stored_rejected_and_listener_keeps_going(
    odoo_server, odoo_env, broker, listeners, plant_cleanup, sql
):
    plant = make_plant(odoo_env, broker)
    plant_cleanup.append(plant["backend_id"])
    listener = listeners().start(wait_for=plant["subscribed"])
    pub = Publisher(broker.port, f"plant-{plant['suffix']}")
    rnd = random.Random(42)
    unknown_topic = plant["topic"].rsplit("/", 1)[0] + "/no.such_type"
    for i in range(1000):
        garbage = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 300)))
        pub.publish(plant["topic"] if i % 2 else unknown_topic, garbage)
    for i in range(50):
        pub.publish(plant["topic"], payload(plant, i))
    assert pub.wait_acked(1050)
    pub.close()
    assert wait_until(lambda: counts(sql, plant)["done"] == 50, timeout=180), counts(sql, plant)
    c = counts(sql, plant)
    assert c["rejected"] == 1000 and c["total"] == 1050
    unroutable = sql(
        """SELECT count(*) FROM mfg_message m JOIN mfg_exchange_type t ON t.id = m.exchange_type_id
            WHERE m.backend_id = %s AND t.code = 'mfg.unroutable'""",
        (plant["backend_id"],),
    )[0][0]
    assert unroutable == 500
    assert listener.alive


# Random text: a repetitive id ("xxx…") is compressed in the index tuple and fits; a random one of
# 3,000 characters overflows the btree row limit (~2,700 bytes), as a real id of that length would.
_RANDOM_ID = "".join(random.Random(12).choices("abcdefghijklmnopqrstuvwxyz0123456789", k=3000))
POISONS = {
    # json.loads raised RecursionError, which nothing caught: the batch went back to the head of
    # the queue every 30 s, forever, and no later message of any backend was stored.
    "json_nested_5000_deep": {"payload": '{"a": ' + "[" * 5000 + "]" * 5000 + "}"},
    # "index row size exceeds btree maximum" on the unique index, an OperationalError the
    # listener took for a database outage: retried forever.
    "message_id_property_of_3000_chars": {"message_id": _RANDOM_ID},
    "correlation_id_property_of_3000_chars": {"user_properties": [("correlation_id", _RANDOM_ID)]},
}


@pytest.mark.parametrize("poison", sorted(POISONS))
def test_poison_message_never_stops_the_listener(
    poison, odoo_server, odoo_env, broker, listeners, plant_cleanup, sql
):
    """Issue 12: a poison message is stored as rejected, 1,000 normal messages after it are all
    stored and done, and a restart of the listener (same persistent session) changes nothing."""
    plant = make_plant(odoo_env, broker)
    plant_cleanup.append(plant["backend_id"])
    name = f"poison{plant['suffix']}"
    listener = listeners(name).start(wait_for=plant["subscribed"])
    pub = Publisher(broker.port, f"plant-{plant['suffix']}")
    spec = dict(POISONS[poison])
    pub.publish(plant["topic"], spec.pop("payload", payload(plant, 100000)), **spec)
    for i in range(1000):
        pub.publish(plant["topic"], payload(plant, i))
    assert pub.wait_acked(1001)
    assert wait_until(lambda: counts(sql, plant)["done"] == 1000, timeout=240), (
        counts(sql, plant),
        listener.tail(),
    )
    assert counts(sql, plant) == {"total": 1001, "distinct": 1000, "done": 1000, "rejected": 1}
    error = sql(
        "SELECT error_message FROM mfg_message WHERE backend_id = %s AND state = 'rejected'",
        (plant["backend_id"],),
    )[0][0]
    assert ("levels deep" in error) if poison.startswith("json") else ("at most 255" in error), error
    # The backend's last contact follows MQTT ingest (issue 12, item 12).
    assert sql("SELECT last_contact_at FROM mfg_backend WHERE id = %s", (plant["backend_id"],))[0][0]

    listener.stop()
    listener = listeners(name).start(wait_for=plant["subscribed"], occurrence=2)
    pub.publish(plant["topic"], payload(plant, 1000))
    assert pub.wait_acked(1002)
    pub.close()
    assert wait_until(lambda: counts(sql, plant)["done"] == 1001, timeout=120), listener.tail()
    assert counts(sql, plant) == {"total": 1002, "distinct": 1001, "done": 1001, "rejected": 1}
    assert listener.alive


def test_kill_9_listener_mid_stream_loses_nothing(odoo_env, broker, listeners, plant_cleanup, sql):
    """5,000 messages; the listener is killed with SIGKILL after ~1,500 and restarted."""
    plant = make_plant(odoo_env, broker)
    plant_cleanup.append(plant["backend_id"])
    name = f"crash{plant['suffix']}"
    first = listeners(name).start(wait_for=plant["subscribed"])
    pub = Publisher(broker.port, f"plant-{plant['suffix']}")
    n = 5000

    def produce():
        for i in range(n):
            pub.publish(plant["topic"], payload(plant, i))
            if i % 100 == 0:
                time.sleep(0.02)

    producer = threading.Thread(target=produce)
    producer.start()
    wait_until(lambda: counts(sql, plant)["total"] >= 1500, timeout=120)
    first.kill()  # kill -9: whatever was received but not committed is not acknowledged
    stored_at_kill = counts(sql, plant)["total"]
    time.sleep(2)
    second = listeners(name).start(wait_for=plant["subscribed"])  # same name: same persistent session
    producer.join(timeout=300)
    assert pub.wait_acked(n)
    pub.close()
    assert wait_until(lambda: counts(sql, plant)["distinct"] == n, timeout=240), (
        counts(sql, plant),
        second.tail(),
    )
    time.sleep(2)
    c = counts(sql, plant)
    assert c["total"] == n and c["distinct"] == n, c
    assert 0 < stored_at_kill < n


def test_broker_limit_drops_what_exceeds_max_queued_messages(
    tmp_path, odoo_env, listeners, plant_cleanup, sql
):
    """Mosquitto's default max_queued_messages (1000) drops what an offline session cannot hold.

    This is why the README tells to raise it (the other tests run brokers with 0 = no limit).
    """
    limited = Broker(tmp_path / "limited", max_queued_messages=1000).start()
    try:
        plant = make_plant(odoo_env, limited)
        plant_cleanup.append(plant["backend_id"])
        name = f"lim{plant['suffix']}"
        lp = listeners(name).start(wait_for=plant["subscribed"])
        lp.stop()  # graceful: the persistent session stays on the broker, the listener is away
        pub = Publisher(limited.port, f"plant-{plant['suffix']}")
        for i in range(3000):
            pub.publish(plant["topic"], payload(plant, i))
        assert pub.wait_acked(3000)
        pub.close()
        listeners(name).start(wait_for=plant["subscribed"])
        wait_until(lambda: counts(sql, plant)["total"] >= 1000, timeout=60)
        time.sleep(3)
        stored = counts(sql, plant)["total"]
        assert 1000 <= stored < 3000, stored
    finally:
        limited.stop()


def test_broker_restart_mid_stream_loses_nothing(odoo_env, broker, listeners, plant_cleanup, sql):
    plant = make_plant(odoo_env, broker)
    plant_cleanup.append(plant["backend_id"])
    listener = listeners().start(wait_for=plant["subscribed"])
    pub = Publisher(broker.port, f"plant-{plant['suffix']}")
    n = 3000
    for i in range(n // 2):
        pub.publish(plant["topic"], payload(plant, i))
    wait_until(lambda: counts(sql, plant)["total"] >= 500, timeout=60)
    broker.stop()  # graceful restart: mosquitto saves sessions and queued messages
    for i in range(n // 2, n):
        pub.publish(plant["topic"], payload(plant, i))  # queued by the plant's client meanwhile
    time.sleep(2)
    broker.start()
    assert pub.wait_acked(n, timeout=180)
    pub.close()
    assert wait_until(lambda: counts(sql, plant)["distinct"] == n, timeout=240), (
        counts(sql, plant),
        listener.tail(),
    )
    c = counts(sql, plant)
    assert c["total"] == n and c["distinct"] == n, c
    assert listener.alive


def test_two_listeners_in_a_shared_group_split_without_duplicates(
    odoo_server, odoo_env, broker, listeners, plant_cleanup, sql
):
    plant = make_plant(odoo_env, broker, shared_group=f"g{uuid.uuid4().hex[:6]}")
    plant_cleanup.append(plant["backend_id"])
    a = listeners(f"a{plant['suffix']}").start(wait_for=plant["subscribed"])
    b = listeners(f"b{plant['suffix']}").start(wait_for=plant["subscribed"])
    pub = Publisher(broker.port, f"plant-{plant['suffix']}")
    n = 2000
    for i in range(n):
        pub.publish(plant["topic"], payload(plant, i))
    assert pub.wait_acked(n)
    pub.close()
    assert wait_until(lambda: counts(sql, plant)["done"] == n, timeout=240), counts(sql, plant)
    c = counts(sql, plant)
    assert c["total"] == n and c["distinct"] == n
    assert applied(sql, plant) == n
    a.stop()
    b.stop()
    stored = []
    for lp in (a, b):
        line = [ln for ln in lp.log.read_text().splitlines() if "mfg mqtt: stopping (stored" in ln]
        assert line, lp.tail()
        stored.append(int(line[-1].split("stored ")[1].split()[0]))
    assert sum(stored) == n and all(s > 0 for s in stored), stored


def test_outbound_waits_for_the_broker_and_is_delivered_once(
    odoo_server, odoo_env, broker, plant_cleanup, sql
):
    plant = make_plant(odoo_env, broker, outbound=True)
    plant_cleanup.append(plant["backend_id"])
    with odoo_env() as env:
        env["mfg.backend"].browse(plant["backend_id"]).mqtt_enabled = False  # publisher only
    broker.stop()
    with odoo_env() as env:
        msg = (
            env["mfg.backend"]
            .browse(plant["backend_id"])
            ._mfg_outbox(
                "test.order_notice", {"order": f"MO-{plant['suffix']}", "event": "released"}, ordering_key="x"
            )
        )
        msg_id = msg.id
    state = wait_until(
        lambda: sql("SELECT state FROM mfg_message WHERE id = %s", (msg_id,))[0][0] == "retrying", timeout=60
    )
    assert state, sql("SELECT state, error_message FROM mfg_message WHERE id = %s", (msg_id,))
    err = sql("SELECT error_class, error_message FROM mfg_message WHERE id = %s", (msg_id,))[0]
    assert err[0] == "transient" and "not reachable" in err[1], err
    broker.start()
    sub = Subscriber(broker.port, plant["outbound_topic"], f"wms-{plant['suffix']}")
    try:
        assert wait_until(
            lambda: sql("SELECT state FROM mfg_message WHERE id = %s", (msg_id,))[0][0] == "done", timeout=120
        ), sql("SELECT state, error_message, next_attempt_at FROM mfg_message WHERE id = %s", (msg_id,))
        assert wait_until(lambda: len(sub.messages) >= 1, timeout=10)
        time.sleep(2)
        assert len(sub.messages) == 1
        body = json.loads(sub.messages[0].payload)
        assert body["event"] == "released"
        props = dict(sub.messages[0].properties.UserProperty)
        assert props["message_id"] == f"{plant['code']}-{msg_id}"
    finally:
        sub.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="restarting PostgreSQL needs root")
def test_postgresql_restart_mid_stream_loses_nothing(odoo_env, broker, listeners, plant_cleanup, sql):
    """PostgreSQL stops while messages arrive: the listener keeps them unacknowledged, retries,
    and stores every one once PostgreSQL is back. PostgreSQL is restarted whatever happens."""
    import subprocess

    plant = make_plant(odoo_env, broker)
    plant_cleanup.append(plant["backend_id"])
    listener = listeners().start(wait_for=plant["subscribed"])
    pub = Publisher(broker.port, f"plant-{plant['suffix']}")
    n = 2000
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    ctl = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]
    try:
        for i in range(n // 2):
            pub.publish(plant["topic"], payload(plant, i))
        wait_until(lambda: counts(sql, plant)["total"] >= 300, timeout=60)
        subprocess.run([*ctl, "stop", "-m", "fast"], check=True, timeout=60)
        for i in range(n // 2, n):
            pub.publish(plant["topic"], payload(plant, i))
        time.sleep(3)
    finally:
        subprocess.run([*ctl, "start"], check=False, timeout=120)
    assert pub.wait_acked(n, timeout=180)
    pub.close()
    assert wait_until(lambda: _safe_counts(sql, plant)["distinct"] == n, timeout=240), listener.tail()
    c = counts(sql, plant)
    assert c["total"] == n and c["distinct"] == n, c
    assert listener.alive
    assert "could not store a batch" in listener.log.read_text()


def _safe_counts(sql, plant):
    try:
        return counts(sql, plant)
    except Exception:
        return {"distinct": -1}


def test_tls_and_password_from_the_backend_record(tmp_path, odoo_env, listeners, plant_cleanup, sql):
    """The listener connects with the CA, client certificate and key uploaded on the backend (PEM
    contents, no server path) and its user/password; a wrong password is reported on the backend
    (mqtt_last_error) instead of crashing the listener. A server path outside file_roots left by an
    older version is refused: the backend is not served and says what to do (issue 13)."""
    tls = make_tls_files(tmp_path / "tls")
    secure = Broker(
        tmp_path / "secure", users={"odoo": "s3cret", "plant": "plantpw"}, tls=tls, require_certificate=True
    ).start()

    def upload(path):
        return base64.b64encode(Path(path).read_bytes())

    try:
        plant = make_plant(
            odoo_env,
            secure,
            mqtt_tls=True,
            mqtt_ca_pem=upload(tls["cafile"]),
            mqtt_cert_pem=upload(tls["client_certfile"]),
            mqtt_key_pem=upload(tls["client_keyfile"]),
            mqtt_username="odoo",
            mqtt_password="s3cret",
            mqtt_host="localhost",
        )
        plant_cleanup.append(plant["backend_id"])
        listener = listeners().start(wait_for=plant["subscribed"])
        pub = Publisher(
            secure.port,
            f"plant-{plant['suffix']}",
            username="plant",
            password="plantpw",
            cafile=tls["cafile"],
            certfile=tls["client_certfile"],
            keyfile=tls["client_keyfile"],
        )
        for i in range(100):
            pub.publish(plant["topic"], payload(plant, i))
        assert pub.wait_acked(100)
        pub.close()
        assert wait_until(lambda: counts(sql, plant)["total"] == 100, timeout=60), listener.tail()
        # a wrong password: the listener says so on the backend and keeps running
        with odoo_env() as env:
            env["mfg.backend"].browse(plant["backend_id"]).mqtt_password = "wrong"

        def status():
            return sql(
                "SELECT mqtt_state, coalesce(mqtt_last_error, '') FROM mfg_backend WHERE id = %s",
                (plant["backend_id"],),
            )[0]

        assert wait_until(lambda: status()[0] == "disconnected" and status()[1], timeout=60), (
            status(),
            listener.tail(),
        )
        # the right password again: connected again, without restarting the listener
        with odoo_env() as env:
            env["mfg.backend"].browse(plant["backend_id"]).mqtt_password = "s3cret"
        assert wait_until(lambda: status() == ("connected", ""), timeout=60), (status(), listener.tail())
        # a database of an older version: the CA given as a server path outside file_roots
        sql(
            "UPDATE mfg_backend SET mqtt_ca_pem = NULL, mqtt_ca_file = %s, write_date = now() WHERE id = %s",
            (tls["cafile"], plant["backend_id"]),
        )
        assert wait_until(lambda: "is refused" in status()[1], timeout=60), (status(), listener.tail())
        assert status()[0] == "disconnected"
        assert tls["cafile"] in status()[1] and "Upload the file's content" in status()[1], status()
        # uploaded again: served again
        with odoo_env() as env:
            env["mfg.backend"].browse(plant["backend_id"]).write(
                {"mqtt_ca_pem": upload(tls["cafile"]), "mqtt_ca_file": False}
            )
        assert wait_until(lambda: status() == ("connected", ""), timeout=60), (status(), listener.tail())
        assert listener.alive
    finally:
        secure.stop()


def test_mqtt_311_fallback_persistent_session(odoo_env, broker, listeners, plant_cleanup, sql):
    plant = make_plant(odoo_env, broker, mqtt_protocol="v311")
    plant_cleanup.append(plant["backend_id"])
    name = f"v311{plant['suffix']}"
    lp = listeners(name).start(wait_for=plant["subscribed"])
    lp.stop()  # the session (clean session off) keeps what arrives meanwhile
    pub = Publisher(broker.port, f"plant-{plant['suffix']}", protocol=MQTTProtocolVersion.MQTTv311)
    for i in range(200):
        pub.publish(plant["topic"], payload(plant, i))
    assert pub.wait_acked(200)
    pub.close()
    listeners(name).start(wait_for=plant["subscribed"])
    assert wait_until(lambda: counts(sql, plant)["distinct"] == 200, timeout=60), counts(sql, plant)
    assert counts(sql, plant)["total"] == 200


def test_listener_follows_backend_changes(odoo_env, broker, listeners, plant_cleanup, sql):
    """A backend enabled while the listener runs is served within seconds, without restart."""
    first = make_plant(odoo_env, broker)
    plant_cleanup.append(first["backend_id"])
    listener = listeners().start(wait_for=first["subscribed"])
    second = make_plant(odoo_env, broker)
    plant_cleanup.append(second["backend_id"])
    listener.wait_log(second["subscribed"], timeout=30)
    pub = Publisher(broker.port, f"plant-{second['suffix']}")
    pub.publish(second["topic"], payload(second, 1))
    assert pub.wait_acked(1)
    pub.close()
    assert wait_until(lambda: counts(sql, second)["total"] == 1, timeout=30)
    with odoo_env() as env:
        env["mfg.backend"].browse(second["backend_id"]).mqtt_enabled = False
    listener.wait_log(f"stopping client of backend {second['backend_id']}", timeout=30)
