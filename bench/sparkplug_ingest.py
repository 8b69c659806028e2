"""Sparkplug B metric updates absorbed by one listener (with aggregation), next to MQTT JSON ingest.

    ~/.cache/mfg-hub/venv/bin/python bench/sparkplug_ingest.py [--updates N] [--devices D]
        [--messages N] [--qos 0|1] [--keep-db]

Self-contained, on 127.0.0.1, in one run:

1. an Odoo config (``mqtt_ingest.write_conf``), a throwaway database ``mfg_bench_sp_<pid>`` with
   ``test_mfg_integration`` and ``mfg_sparkplug``, a private Mosquitto, two backends made with
   ``odoo shell``: one for ``test.order_report`` JSON messages, one Sparkplug B backend (flush
   interval 60 s) with a metric map (machine state, good counter; temperature left unmapped);
2. **JSON**: N QoS 1 messages published as fast as paho goes; one ``odoo mfg_mqtt`` listener; time
   from the first publish until N rows are committed (``received-and-committed``, as mqtt_ingest.py);
3. **Sparkplug**: ``bench/sparkplug_sim.py``'s edge node with D devices, births, then DDATA of 3 metrics
   each (good counter, temperature, now and then the machine state) by alias, as fast as paho goes;
   the same listener process serves both backends. Time from the first publish until the node and
   device records say every update was taken (metrics with and without a rule, committed by the
   listener's checkpoints), and how many message rows they became;
4. prints the table; drops the database unless ``--keep-db``.

No Odoo server runs: what is measured is the listener alone (nothing processes the rows).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from mqtt_ingest import ODOO_BIN, Sql, drop_db, log, run_bounded, write_conf  # noqa: E402
from mqtt_support import Broker, ListenerProcess, Publisher  # noqa: E402
from odoo_process import free_port  # noqa: E402
from sparkplug_sim import EdgeNode  # noqa: E402

SETUP = """
import json
suffix = {suffix!r}
port = {port}
Backend = env["mfg.backend"]
json_backend = Backend.create({{
    "name": "Bench JSON " + suffix, "code": "bj-" + suffix, "plant_code": "BJ" + suffix, "system_kind": "mes",
    "mqtt_enabled": True, "mqtt_port": port,
    "flow_ids": [(0, 0, {{"exchange_type_id": env.ref("test_mfg_integration.exchange_type_order_report").id}})],
}})
sp_backend = Backend.create({{
    "name": "Bench Sparkplug " + suffix, "code": "bs-" + suffix, "plant_code": "BS" + suffix, "system_kind": "other",
    "mqtt_enabled": True, "mqtt_port": port, "sparkplug_enabled": True, "sparkplug_group": "BG" + suffix,
    "sparkplug_flush_seconds": 60,
    "sparkplug_rule_ids": [
        (0, 0, {{"metric": "Machine/State", "kind": "state", "state_map": "2=BRK"}}),
        (0, 0, {{"metric": "Counts/Good", "kind": "good_count"}}),
    ],
}})
env.cr.commit()
print("IDS " + json.dumps({{"json": json_backend.id, "sp": sp_backend.id,
      "inbound": json_backend.mqtt_inbound_topic, "host": sp_backend._mfg_sparkplug_host_id()}}))
"""


def setup_backends(conf, db, port, suffix, logs):
    out = subprocess.run(
        [str(ODOO_BIN), "shell", "-c", str(conf), "-d", db, "--no-http", f"--logfile={logs / 'shell.log'}"],
        input=SETUP.format(suffix=suffix, port=port),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    for line in out.stdout.splitlines():
        if line.startswith("IDS "):
            return json.loads(line[4:])
    raise RuntimeError(f"odoo shell did not create the backends:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")


def wait(predicate, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


def json_run(sql, broker, ids, n, timeout):
    suffix = uuid.uuid4().hex[:8]
    pub = Publisher(broker.port, f"bench-json-{suffix}")
    topic = ids["inbound"].replace("+", "test.order_report")
    t0 = time.monotonic()
    for i in range(n):
        body = {
            "message_id": f"{suffix}-{i}",
            "order": f"MO-{i % 100}",
            "product": "X",
            "quantity": 1,
            "step": str(i),
        }
        pub.publish(topic, json.dumps(body))
    done = wait(
        lambda: sql("SELECT count(*) FROM mfg_message WHERE backend_id = %s", (ids["json"],))[0][0] >= n,
        timeout,
    )
    seconds = time.monotonic() - t0
    pub.close()
    return {"updates": n, "rows": n, "seconds": seconds if done else None}


def sparkplug_run(sql, broker, ids, group, devices, updates, qos, timeout):
    names = [f"M{i + 1:03d}" for i in range(devices)]
    node = EdgeNode("127.0.0.1", broker.port, group, "Line1", names, qos=qos).connect()
    rows_before = sql("SELECT count(*) FROM mfg_message WHERE backend_id = %s", (ids["sp"],))[0][0]
    t0 = time.monotonic()
    node.birth()
    sent = 4 * devices  # the births' metrics
    i = 0
    while sent < updates:
        device = names[i % devices]
        values = node.values[device]
        update = {"Counts/Good": values["Counts/Good"] + 1, "Temperature": 20.0 + (i % 50) / 10}
        if i % 97 == 0:
            update["Machine/State"] = 2 if values["Machine/State"] == 1 else 1
        node.data(device, update)
        sent += len(update)
        i += 1

    def taken():
        total = sql(
            "SELECT coalesce(sum(metrics_applied + metrics_counted), 0) FROM mfg_sparkplug_node WHERE backend_id = %s",
            (ids["sp"],),
        )[0][0]
        return total >= sent

    done = wait(taken, timeout, interval=0.05)
    seconds = time.monotonic() - t0
    node.ndeath().wait_for_publish(10)
    node.close()
    rows = sql("SELECT count(*) FROM mfg_message WHERE backend_id = %s", (ids["sp"],))[0][0] - rows_before
    return {"updates": sent, "rows": rows, "seconds": seconds if done else None}


def render(json_result, sp_result, args):
    def rate(r):
        return f"{r['updates'] / r['seconds']:,.0f}" if r["seconds"] else "TIMEOUT"

    lines = [
        "| path | measures | updates | message rows | time (s) | updates/s absorbed |",
        "|---|---|---|---|---|---|",
        f"| MQTT JSON (1 listener) | {args.messages:,} QoS 1 messages received-and-committed | {json_result['updates']:,} "
        f"| {json_result['rows']:,} | {json_result['seconds'] or 0:.1f} | {rate(json_result)} |",
        f"| Sparkplug B (1 listener, aggregation) | metric updates of {args.devices} devices (QoS {args.qos}) taken and "
        f"committed | {sp_result['updates']:,} | {sp_result['rows']:,} | {sp_result['seconds'] or 0:.1f} | {rate(sp_result)} |",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000, help="JSON messages (default 5000)")
    parser.add_argument("--updates", type=int, default=30000, help="Sparkplug metric updates (default 30000)")
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument(
        "--qos", type=int, default=0, choices=(0, 1), help="QoS of the edge node's data (0: Sparkplug's)"
    )
    parser.add_argument("--timeout", type=float, default=180)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    db = f"mfg_bench_sp_{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix=f"{db}_"))
    logs = work / "logs"
    logs.mkdir()
    conf = work / "odoo.conf"
    broker = listener = sql = None
    try:
        write_conf(conf, db, free_port(), free_port())
        log(f"creating database {db} (test_mfg_integration, mfg_sparkplug)")
        install_log = logs / "install.log"
        rc = run_bounded(
            [str(ODOO_BIN), "-c", str(conf), "-d", db, "-i", "test_mfg_integration,mfg_sparkplug",
             "--stop-after-init", f"--logfile={install_log}"],
            600, install_log,
        )  # fmt: skip
        if rc != 0:
            raise RuntimeError(f"install failed (rc {rc}), see {install_log}")
        sql = Sql(db)
        broker = Broker(work / "broker", max_queued_messages=0).start()
        suffix = uuid.uuid4().hex[:6]
        ids = setup_backends(conf, db, broker.port, suffix, logs)
        settings = {"conf": str(conf), "db": db, "odoo_bin": str(ODOO_BIN)}
        listener = ListenerProcess(settings, f"bench-{suffix}", logs)
        listener.start(wait_for=f"primary host {ids['host']} of group BG{suffix}", timeout=90)
        listener.wait_log(f"subscribed to {ids['inbound']}", timeout=60)
        log(f"JSON: {args.messages} messages")
        json_result = json_run(sql, broker, ids, args.messages, args.timeout)
        log(f"Sparkplug: {args.updates} metric updates from {args.devices} devices")
        sp_result = sparkplug_run(
            sql, broker, ids, f"BG{suffix}", args.devices, args.updates, args.qos, args.timeout
        )
        print(render(json_result, sp_result, args))
    finally:
        if listener is not None:
            listener.stop()
        if broker is not None:
            broker.stop()
        if sql is not None:
            sql.close()
        if args.keep_db:
            log(f"kept database {db} and logs in {work}")
        else:
            drop_db(db)


if __name__ == "__main__":
    main()
