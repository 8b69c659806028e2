"""Plant simulator: plays an MES against Odoo over MQTT (paho-mqtt 2.x, QoS 1).

    ~/.cache/mfg-hub/venv/bin/python bench/plant_sim.py [--host 127.0.0.1] [--port 1883]
        [--prefix mfg] [--plant P01] [--system mes] [--rate 2] [--seed 42]
        [--scrap-rate 0.3] [--downtime-rate 0.3] [--duplicate-rate 0] [--out-of-order-rate 0]
        [--unknown-code-rate 0] [--once | --count N] [--username U --password P] [--tls --ca-file F]

The defaults match the demo plant of ``setup/run`` (backend ``plant1-mes``, plant ``P01``, system
``mes``, broker on 127.0.0.1:1883); ``setup/run --sim`` starts it for you.

It subscribes to ``<prefix>/<plant>/<system>/odoo/+`` and, for every ``erp.work_order_release`` it
receives (other Odoo contracts are logged and ignored), publishes on
``<prefix>/<plant>/<system>/<exchange-type-code>`` what a shop floor would report, each payload valid
against the ``mes.*.v1`` JSON Schemas of ``mfg_mes_connector``:

1. ``mes.operation_status`` *started* for each released operation;
2. ``mes.material_consumption`` for each component (its released quantity times
   ``--consumption-factor``, default 1, with the first reserved lot when the release carried lots);
3. optionally (``--scrap-rate``) ``mes.scrap`` of one unit of the first component (with its lot);
4. optionally (``--downtime-rate``) ``mes.downtime`` of the first operation's work center;
5. ``mes.operation_status`` *finished* for each operation;
6. ``mes.production_completion``: full quantity, ``final: true``, with the release's lot or a lot
   name made from the order name (``LOT-WH-MO-00012``; ignored by Odoo for untracked products).

Plant times (``at``, ``start``/``end``) are laid out backwards from now over the operations' expected
durations, so the order "ran" in the past and finished now. Every fact has a ``message_id`` that is
unique and stable: ``<id-prefix>:<work order>:<fact>``; playing the same order again (a second
release) only produces duplicates, which Odoo acknowledges without applying them twice.

Error injection (probabilities between 0 and 1, drawn per order, or per fact for duplicates, from
``--seed``):
- ``--duplicate-rate``: the fact is published a second time (same message_id) after the order's last
  fact (a retransmission);
- ``--out-of-order-rate``: the order's consumption is published after its completion;
- ``--unknown-code-rate``: one more ``mes.downtime`` after the completion with a loss reason code
  Odoo does not know (``SIM-UNKNOWN``): it fails as a mapping error and holds nothing else;
- ``--scrap-rate`` / ``--downtime-rate``: whether the order reports a scrap / a downtime.

Wire format (``--wire``): ``json`` (default) publishes the canonical JSON contracts above;
``b2mml`` plays an MES that speaks B2MML V0700 (``plant_b2mml.py``): it reads the release as a
``SyncOperationsSchedule`` / ``ProcessOperationsSchedule`` document (the backend's release flow
in wire format B2MML; JSON releases are read too) and answers each consumption, scrap and
completion with a ``SyncOperationsPerformance`` document on ``<prefix>/<plant>/<system>/
b2mml.document`` (the backend's ``b2mml.document`` flow, wire format B2MML). Operation status and
downtime have no B2MML document here: they are not sent in that mode (Odoo's completion finishes
the work orders).

Importable: ``PlantSimulator(...)`` with ``start()`` (connect, subscribe, play releases in a
background thread), ``wait_subscribed()``, ``wait_orders(n)``, ``stop()``; ``published`` lists every
fact sent. One log line per published fact.
"""

import argparse
import json
import queue
import random
import re
import signal
import ssl
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import paho.mqtt.client as mqtt
import plant_b2mml
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

RELEASE = "erp.work_order_release"
B2MML_DOCUMENT = "b2mml.document"
WIRES = ("json", "b2mml")
UNKNOWN_REASON = "SIM-UNKNOWN"


def _rfc3339(value):
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now():
    return datetime.now(timezone.utc).replace(microsecond=0)


def _num(value):
    """Quantities as JSON numbers without float noise (2.0 -> 2, 0.30000000000000004 -> 0.3)."""
    value = round(float(value), 6)
    return int(value) if value == int(value) else value


def _default_log(text):
    print(f"[sim {time.strftime('%H:%M:%S')}] {text}", flush=True)


class Fact:
    """One message the plant publishes."""

    __slots__ = ("code", "data", "note", "product")

    def __init__(self, code, data, note=""):
        self.code = code
        self.data = data
        self.note = note
        self.product = None  # B2MML: the released product (a completion names its material)

    @property
    def message_id(self):
        return self.data["message_id"]


class PlantSimulator:
    """An MES that answers Odoo's work order releases with shop-floor facts over MQTT."""

    def __init__(
        self,
        host="127.0.0.1",
        port=1883,
        prefix="mfg",
        plant="P01",
        system="mes",
        rate=2.0,
        seed=None,
        unknown_code_rate=0.0,
        duplicate_rate=0.0,
        out_of_order_rate=0.0,
        scrap_rate=0.0,
        downtime_rate=0.0,
        consumption_factor=1.0,
        count=None,
        username=None,
        password=None,
        tls=False,
        ca_file=None,
        cert_file=None,
        key_file=None,
        client_id=None,
        protocol="v5",
        id_prefix="sim",
        lot_prefix="LOT",
        downtime_reason="Equipment Failure",
        scrap_reason=None,
        release_topic=None,
        wire="json",
        log=_default_log,
    ):
        if wire not in WIRES:
            raise ValueError(f"wire {wire!r}: expected one of {', '.join(WIRES)}")
        self.wire = wire
        self.host, self.port = host, int(port)
        self.base_topic = f"{prefix}/{plant}/{system}"
        self.release_filter = release_topic or f"{self.base_topic}/odoo/+"
        self.rate = float(rate or 0)
        self.rnd = random.Random(seed)
        self.rates = {
            "unknown_code": float(unknown_code_rate),
            "duplicate": float(duplicate_rate),
            "out_of_order": float(out_of_order_rate),
            "scrap": float(scrap_rate),
            "downtime": float(downtime_rate),
        }
        self.consumption_factor = float(consumption_factor)
        self.count = count
        self.id_prefix = id_prefix
        self.lot_prefix = lot_prefix
        self.downtime_reason = downtime_reason
        self.scrap_reason = scrap_reason
        self.log = log or (lambda _text: None)
        self.v5 = protocol == "v5"
        self.client_id = client_id or f"plant-sim-{plant}-{system}"
        self.published = []  # (topic, payload dict, note) of every fact sent, duplicates included
        self.orders = []  # work orders played
        self.releases = queue.Queue()
        self.subscribed = threading.Event()
        self.connected = threading.Event()
        self.finished = threading.Event()  # --count reached
        self._stop = threading.Event()
        self._acked = set()
        self._ack_lock = threading.Lock()
        self._worker = None
        self._last_publish = 0.0
        self.client = self._make_client(username, password, tls, ca_file, cert_file, key_file)

    # ------------------------------------------------------------------ MQTT
    def _make_client(self, username, password, tls, ca_file, cert_file, key_file):
        kwargs = {"callback_api_version": CallbackAPIVersion.VERSION2, "client_id": self.client_id}
        if self.v5:
            kwargs["protocol"] = MQTTProtocolVersion.MQTTv5
        else:
            kwargs.update(protocol=MQTTProtocolVersion.MQTTv311, clean_session=False)
        # Releases are acknowledged once the order is played: one that arrives just before the
        # simulator stops is delivered again to the persistent session.
        client = mqtt.Client(manual_ack=True, **kwargs)
        if username:
            client.username_pw_set(username, password or None)
        if tls or ca_file:
            client.tls_set(
                ca_certs=ca_file or None,
                certfile=cert_file or None,
                keyfile=key_file or None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        client.reconnect_delay_set(min_delay=1, max_delay=15)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties):
        if reason_code.is_failure:
            self.log(f"connection refused by {self.host}:{self.port}: {reason_code}")
            return
        self.connected.set()
        client.subscribe(self.release_filter, qos=1)

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties):
        self.connected.clear()
        if not self._stop.is_set():
            self.log(f"disconnected ({reason_code}); reconnecting")

    def _on_subscribe(self, _client, _userdata, _mid, reason_codes, _properties):
        if all(not getattr(rc, "is_failure", False) for rc in reason_codes):
            if not self.subscribed.is_set():
                self.log(f"subscribed to {self.release_filter} on {self.host}:{self.port}")
            self.subscribed.set()
        else:
            self.log(f"subscription to {self.release_filter} refused: {reason_codes}")

    def _on_message(self, client, _userdata, msg):
        contract = msg.topic.rsplit("/", 1)[-1]
        if contract != RELEASE and not contract.startswith(RELEASE + ".v"):
            self.log(f"ignored {contract} on {msg.topic}")
            client.ack(msg.mid, msg.qos)
            return
        try:
            if msg.payload.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
                release = plant_b2mml.read_schedule(msg.payload)
                if release is None:
                    self.log(f"{contract}: a B2MML schedule change or cancellation, nothing to play")
                    client.ack(msg.mid, msg.qos)
                    return
            else:
                release = json.loads(msg.payload)
            if not isinstance(release, dict) or not release.get("work_order"):
                raise ValueError("no work_order")
        except ValueError as exc:
            self.log(f"ignored an unreadable release on {msg.topic}: {exc}")
            client.ack(msg.mid, msg.qos)
            return
        self.releases.put((release, msg.mid, msg.qos))

    def _on_publish(self, _client, _userdata, mid, _reason_code, _properties):
        with self._ack_lock:
            self._acked.add(mid)

    def _connect_kwargs(self):
        kwargs = {"host": self.host, "port": self.port, "keepalive": 30}
        if self.v5:
            props = Properties(PacketTypes.CONNECT)
            # Persistent session: releases published while the simulator is away wait for it.
            props.SessionExpiryInterval = 7 * 24 * 3600
            kwargs.update(clean_start=False, properties=props)
        return kwargs

    # ------------------------------------------------------------------ life cycle
    def start(self):
        """Connect (in the background: retries until the broker is there) and play releases in a
        worker thread. Returns self."""
        self.client.connect_async(**self._connect_kwargs())
        self.client.loop_start()
        self._worker = threading.Thread(target=self._work, name="plant-sim", daemon=True)
        self._worker.start()
        return self

    def wait_subscribed(self, timeout=30):
        if not self.subscribed.wait(timeout):
            raise RuntimeError(f"plant simulator not subscribed to {self.release_filter} after {timeout}s")
        return True

    def wait_orders(self, n, timeout=120):
        deadline = time.monotonic() + timeout
        while len(self.orders) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        return len(self.orders) >= n

    def stop(self):
        self._stop.set()
        if self._worker:
            self._worker.join(timeout=30)
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()

    def _work(self):
        while not self._stop.is_set():
            try:
                release, mid, qos = self.releases.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self.play(release)
            except Exception as exc:  # a bad release must not stop the plant
                self.log(f"could not play {release.get('work_order')}: {type(exc).__name__}: {exc}")
            if self._stop.is_set():
                return  # not acknowledged: the broker delivers it again next time
            self.client.ack(mid, qos)
            if self.count and len(self.orders) >= self.count:
                self.finished.set()
                return

    # ------------------------------------------------------------------ the plant
    def facts(self, release):
        """The facts the plant reports for one release, in publishing order (no duplicates)."""
        wo = release["work_order"]
        rnd, rates = self.rnd, self.rates
        out_of_order = rnd.random() < rates["out_of_order"]
        scrap = rnd.random() < rates["scrap"]
        downtime = rnd.random() < rates["downtime"]
        unknown = rnd.random() < rates["unknown_code"]
        operations = release.get("operations") or []
        components = [c for c in release.get("components") or [] if c.get("quantity", 0) > 0]
        span = timedelta(minutes=max(1.0, sum(op.get("duration_expected") or 0 for op in operations)))
        end = _now()
        begin = end - span

        def base(fact):
            return {
                "message_id": f"{self.id_prefix}:{wo}:{fact}"[:128],
                "sent_at": "",  # set when published
                "correlation_id": wo[:128],
                "work_order": wo,
            }

        seqs = [op.get("sequence") for op in operations]
        wcs = [op.get("workcenter") for op in operations]

        def op_ref(op):
            # The sequence when it names one operation, else the work center when it does.
            if seqs.count(op.get("sequence")) == 1:
                return op["sequence"]
            if wcs.count(op.get("workcenter")) == 1:
                return op["workcenter"]
            return op.get("sequence")

        started = [
            Fact(
                "mes.operation_status",
                {
                    **base(f"op{i}:started"),
                    "operation": op_ref(op),
                    "status": "started",
                    "at": _rfc3339(begin),
                },
            )
            for i, op in enumerate(operations, 1)
        ]
        consumed = []
        for comp in components:
            quantity = _num(comp["quantity"] * self.consumption_factor)
            line = {"component": comp["component"], "quantity": quantity, "uom": comp["uom"]}
            if comp.get("lots"):
                line["lot"] = comp["lots"][0]
            consumed.append(
                Fact(
                    "mes.material_consumption",
                    {**base(f"consume:{comp['component']}"), "lines": [line]},
                    note=f"{line['component']} {line['quantity']} {line['uom']}"
                    + (f" lot {line['lot']}" if "lot" in line else ""),
                )
            )
        extras = []
        if scrap and components:
            comp = components[0]
            data = {
                **base(f"scrap:{comp['component']}"),
                "product": comp["component"],
                "quantity": _num(min(1.0, comp["quantity"])),
                "uom": comp["uom"],
            }
            if comp.get("lots"):
                data["lot"] = comp["lots"][0]
            if self.scrap_reason:
                data["reason"] = self.scrap_reason
            extras.append(Fact("mes.scrap", data, note=f"{data['product']} {data['quantity']} {data['uom']}"))
        if downtime and operations:
            down_start = begin + span * 0.3
            down_end = down_start + min(timedelta(minutes=5), span * 0.2)
            extras.append(
                Fact(
                    "mes.downtime",
                    {
                        **base("downtime:1"),
                        "workcenter": operations[0]["workcenter"],
                        "start": _rfc3339(down_start),
                        "end": _rfc3339(max(down_end, down_start + timedelta(seconds=1))),
                        "reason": self.downtime_reason,
                        "description": "Simulated stop",
                    },
                    note=f"{operations[0]['workcenter']} {self.downtime_reason!r}",
                )
            )
        finished = [
            Fact(
                "mes.operation_status",
                {
                    **base(f"op{i}:finished"),
                    "operation": op_ref(op),
                    "status": "finished",
                    "at": _rfc3339(end),
                },
            )
            for i, op in enumerate(operations, 1)
        ]
        lot = release.get("lot") or f"{self.lot_prefix}-{re.sub(r'[^A-Za-z0-9]+', '-', wo).strip('-')}"[:64]
        completion = Fact(
            "mes.production_completion",
            {
                **base("completion"),
                "quantity": _num(release["quantity"]),
                "uom": release["uom"],
                "lot": lot,
                "final": True,
            },
            note=f"{_num(release['quantity'])} {release['uom']} lot {lot}",
        )
        for fact in started:
            fact.note = f"operation {fact.data['operation']} started"
        for fact in finished:
            fact.note = f"operation {fact.data['operation']} finished"
        if out_of_order:
            for fact in consumed:
                fact.note += " (out of order: after the completion)"
            facts = [*started, *extras, *finished, completion, *consumed]
        else:
            facts = [*started, *consumed, *extras, *finished, completion]
        if unknown and operations:
            facts.append(
                Fact(
                    "mes.downtime",
                    {
                        **base("downtime:unknown"),
                        "workcenter": operations[0]["workcenter"],
                        "start": _rfc3339(begin),
                        "end": _rfc3339(begin + timedelta(minutes=1)),
                        "reason": UNKNOWN_REASON,
                    },
                    note=f"loss reason {UNKNOWN_REASON!r} (injected unknown code)",
                )
            )
        return facts

    def play(self, release):
        """Publish the facts of one release (and the injected duplicates); returns them."""
        wo = release["work_order"]
        self.log(
            f"{wo}: release received: {release.get('quantity')} {release.get('uom')} of "
            f"{release.get('product')}, {len(release.get('components') or [])} component(s), "
            f"{len(release.get('operations') or [])} operation(s)"
        )
        facts = self.facts(release)
        if self.wire == "b2mml":
            skipped = [f for f in facts if f.code not in plant_b2mml.USES]
            facts = [f for f in facts if f.code in plant_b2mml.USES]
            for fact in facts:
                fact.product = release.get("product")
            if skipped:
                self.log(f"{wo}: {len(skipped)} fact(s) without a B2MML document not sent (status, downtime)")
        duplicates = [f for f in facts if self.rnd.random() < self.rates["duplicate"]]
        for fact in facts:
            self.publish(fact)
        for fact in duplicates:
            self.publish(fact, duplicate=True)
        self.orders.append(wo)
        self.log(f"{wo}: played ({len(facts)} fact(s), {len(duplicates)} duplicate(s))")
        return facts

    def publish(self, fact, duplicate=False, timeout=60):
        """Publish one fact with QoS 1 and wait for the broker's PUBACK."""
        if self.rate > 0:
            wait = self._last_publish + 1.0 / self.rate - time.monotonic()
            if wait > 0:
                self._stop.wait(wait)
        if not duplicate or not fact.data["sent_at"]:
            fact.data["sent_at"] = _rfc3339(_now())
        if self.wire == "b2mml":
            topic = f"{self.base_topic}/{B2MML_DOCUMENT}"
            data = (
                fact.data
                if fact.code != "mes.production_completion"
                else {**fact.data, "product": fact.product}
            )
            payload = plant_b2mml.performance(fact.code, data)
            content_type = plant_b2mml.CONTENT_TYPE
        else:
            topic = f"{self.base_topic}/{fact.code}"
            payload = json.dumps(fact.data)
            content_type = "application/json"
        props = None
        if self.v5:
            props = Properties(PacketTypes.PUBLISH)
            props.ContentType = content_type
            props.UserProperty = [
                ("message_id", fact.message_id),
                ("correlation_id", fact.data["work_order"]),
            ]
        deadline = time.monotonic() + timeout
        while not self.connected.wait(0.5):
            if self._stop.is_set() or time.monotonic() > deadline:
                raise RuntimeError(f"not connected to {self.host}:{self.port}")
        info = self.client.publish(topic, payload, qos=1, properties=props)
        while True:
            with self._ack_lock:
                if info.mid in self._acked:
                    self._acked.discard(info.mid)
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"no PUBACK for {fact.message_id} within {timeout}s")
            time.sleep(0.005)
        self._last_publish = time.monotonic()
        self.published.append((topic, fact.data, "duplicate" if duplicate else fact.note))
        note = "DUPLICATE " if duplicate else ""
        self.log(f"{fact.data['work_order']} {fact.code} {fact.message_id} {note}{fact.note}".rstrip())
        return info


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Plant simulator: an MES answering Odoo's work order releases over MQTT.",
        epilog="Defaults match the demo plant of setup/run (plant P01, system mes, 127.0.0.1:1883).",
    )
    p.add_argument("--host", default="127.0.0.1", help="broker host (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=1883, help="broker port (default 1883)")
    p.add_argument("--prefix", default="mfg", help="topic prefix: the backend's Topic prefix (default mfg)")
    p.add_argument("--plant", default="P01", help="the backend's plant code (default P01)")
    p.add_argument("--system", default="mes", help="the backend's system kind (default mes)")
    p.add_argument(
        "--rate", type=float, default=2.0, help="facts published per second; 0 = no pause (default 2)"
    )
    p.add_argument("--seed", type=int, default=None, help="random seed of the injections (default: random)")
    p.add_argument(
        "--unknown-code-rate", type=float, default=0.0, help="orders with an unknown loss reason code"
    )
    p.add_argument(
        "--duplicate-rate", type=float, default=0.0, help="facts published twice (same message_id)"
    )
    p.add_argument(
        "--out-of-order-rate", type=float, default=0.0, help="orders whose consumption follows the completion"
    )
    p.add_argument("--scrap-rate", type=float, default=0.0, help="orders that report a scrap")
    p.add_argument("--downtime-rate", type=float, default=0.0, help="orders that report a downtime")
    p.add_argument(
        "--consumption-factor",
        type=float,
        default=1.0,
        help="consumption reported = released quantity x this (1.1: 10%% over the BoM; default 1)",
    )
    stop = p.add_mutually_exclusive_group()
    stop.add_argument("--once", action="store_true", help="play one work order, then exit")
    stop.add_argument("--count", type=int, default=None, metavar="N", help="play N work orders, then exit")
    p.add_argument("--username", default=None)
    p.add_argument("--password", default=None)
    p.add_argument("--tls", action="store_true", help="connect with TLS")
    p.add_argument("--ca-file", default=None, help="CA certificate of the broker (implies --tls)")
    p.add_argument("--cert-file", default=None, help="client certificate")
    p.add_argument("--key-file", default=None, help="client key")
    p.add_argument("--client-id", default=None, help="MQTT client id (default plant-sim-<plant>-<system>)")
    p.add_argument("--mqtt311", action="store_true", help="speak MQTT 3.1.1 instead of 5")
    p.add_argument("--id-prefix", default="sim", help="first part of every message_id (default sim)")
    p.add_argument("--lot-prefix", default="LOT", help="produced lot names: <prefix>-<work order>")
    p.add_argument("--downtime-reason", default="Equipment Failure", help="loss reason code of downtimes")
    p.add_argument("--scrap-reason", default=None, help="scrap reason code (default: none sent)")
    p.add_argument("--release-topic", default=None, help="topic filter of releases (default <base>/odoo/+)")
    p.add_argument(
        "--wire",
        choices=WIRES,
        default="json",
        help="what the plant speaks: json (canonical contracts, default) or b2mml (B2MML V0700 documents: "
        "OperationsSchedule in, OperationsPerformance out)",
    )
    p.add_argument("--quiet", action="store_true", help="no log line per fact")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    sim = PlantSimulator(
        host=args.host,
        port=args.port,
        prefix=args.prefix,
        plant=args.plant,
        system=args.system,
        rate=args.rate,
        seed=args.seed,
        unknown_code_rate=args.unknown_code_rate,
        duplicate_rate=args.duplicate_rate,
        out_of_order_rate=args.out_of_order_rate,
        scrap_rate=args.scrap_rate,
        downtime_rate=args.downtime_rate,
        consumption_factor=args.consumption_factor,
        count=1 if args.once else args.count,
        username=args.username,
        password=args.password,
        tls=args.tls,
        ca_file=args.ca_file,
        cert_file=args.cert_file,
        key_file=args.key_file,
        client_id=args.client_id,
        protocol="v311" if args.mqtt311 else "v5",
        id_prefix=args.id_prefix,
        lot_prefix=args.lot_prefix,
        downtime_reason=args.downtime_reason,
        scrap_reason=args.scrap_reason,
        release_topic=args.release_topic,
        wire=args.wire,
        log=None if args.quiet else _default_log,
    )
    stopping = threading.Event()

    def on_signal(_signum, _frame):
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    _default_log(f"plant simulator {sim.client_id}: waiting for {RELEASE} on {sim.release_filter}")
    sim.start()
    while not stopping.is_set() and not sim.finished.is_set():
        stopping.wait(0.5)
    sim.stop()
    _default_log(f"stopped after {len(sim.orders)} work order(s), {len(sim.published)} fact(s) published")
    return 0


if __name__ == "__main__":
    sys.exit(main())
