"""Sparkplug B edge node simulator (paho-mqtt 2.x + the protobuf module of addons/mfg_sparkplug).

    ~/.cache/mfg-hub/venv/bin/python bench/sparkplug_sim.py [--host 127.0.0.1] [--port 1883]
        [--group Plant1] [--node Line1] [--devices 3] [--rate 10] [--seconds 30] [--qos 0]

One edge node with N devices (``M01``, ``M02``, ...), each with the metrics ``Machine/State``
(Int32: 1 running, 2 breakdown), ``Counts/Good`` and ``Counts/Reject`` (UInt64 counters) and
``Temperature`` (Double, usually unmapped). It publishes NBIRTH (bdSeq, ``Node Control/Rebirth``)
and a DBIRTH per device, then DDATA by alias at ``--rate`` updates per second, with a breakdown
now and then; it answers a Rebirth request (NCMD ``Node Control/Rebirth``) with a new NBIRTH and
DBIRTHs; its will is an NDEATH with the bdSeq of its birth. Tests drive ``EdgeNode`` directly:
births, data, a sequence gap (``skip_seq``), a device death, a node death, data before birth.

Store and forward (``--primary-host ID``): the node watches ``spBv1.0/STATE/<ID>``; while the host
is offline its data is stored, not published; when the host is online again the node sends a new
birth (current values) and then the stored data as DDATA whose metrics are historical
(``is_historical``, their original timestamps), in the order they were made.
"""

import argparse
import json
import random
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

try:  # inside Odoo (the tests): the addon's module, loaded once
    from odoo.addons.mfg_sparkplug.lib import codec
except ImportError:  # standalone: the same files, without Odoo
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "addons" / "mfg_sparkplug"))
    from lib import codec

DEVICE_METRICS = (
    ("Machine/State", "Int32", 1),
    ("Counts/Good", "UInt64", 0),
    ("Counts/Reject", "UInt64", 0),
    ("Temperature", "Double", 20.0),
)


class EdgeNode:
    def __init__(self, host, port, group, node_id, devices=("M01",), qos=0, bd_seq=0, primary_host=None):
        self.group = group
        self.primary_host = primary_host
        self.host_online = threading.Event()  # the primary host's last STATE said online
        self.host_offline = threading.Event()  # ... said offline
        self.stored = []  # (device, values, timestamp) kept while the host is offline
        self.forwarded = threading.Event()  # a birth and the stored data were sent
        self.node_id = node_id
        self.devices = list(devices)
        self.qos = qos
        self.bd_seq = bd_seq
        self.seq = -1
        self.values = {d: {name: value for name, _dt, value in DEVICE_METRICS} for d in self.devices}
        self.aliases = {}
        self.rebirth_requests = 0
        self.rebirth_event = threading.Event()
        self.answer_rebirth = True
        self.connected = threading.Event()
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"sim-{group}-{node_id}-{random.randrange(1 << 30)}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.host, self.port = host, port
        self._set_will()

    # ------------------------------------------------------------------ topics and payloads
    def topic(self, kind, device=None):
        return "/".join([codec.NAMESPACE, self.group, kind, self.node_id, *([device] if device else [])])

    def _next_seq(self):
        self.seq = (self.seq + 1) % 256
        return self.seq

    def skip_seq(self, n=1):
        """Lose ``n`` sequence numbers (a gap the host must notice)."""
        with self.lock:
            self.seq = (self.seq + n) % 256

    def _set_will(self):
        death = codec.payload([{"name": codec.BDSEQ_METRIC, "datatype": "UInt64", "value": self.bd_seq}])
        self.client.will_set(self.topic("NDEATH"), death.SerializeToString(), qos=1, retain=False)

    def _publish(self, topic, message, qos=None):
        info = self.client.publish(topic, message.SerializeToString(), qos=self.qos if qos is None else qos)
        return info

    # ------------------------------------------------------------------ connection
    def connect(self, timeout=10):
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        if not self.connected.wait(timeout):
            raise RuntimeError(f"edge node {self.node_id}: no connection to {self.host}:{self.port}")
        return self

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties):
        if not reason_code.is_failure:
            client.subscribe(self.topic("NCMD"), qos=1)
            if self.primary_host:
                client.subscribe(f"{codec.NAMESPACE}/STATE/{self.primary_host}", qos=1)
            self.connected.set()

    def _on_message(self, _client, _userdata, msg):
        if msg.topic.startswith(f"{codec.NAMESPACE}/STATE/"):
            self._host_state(msg.payload)
            return
        try:
            command = codec.decode(msg.payload)
        except codec.SparkplugError:
            return
        for metric in command.metrics:
            if metric.name == codec.REBIRTH_METRIC and metric.boolean_value:
                self.rebirth_requests += 1
                self.rebirth_event.set()
                if self.answer_rebirth:
                    threading.Thread(target=self.birth, daemon=True).start()

    def _host_state(self, raw):
        try:
            online = json.loads(raw).get("online") is True
        except (ValueError, AttributeError):
            return
        if not online:
            self.host_online.clear()
            self.host_offline.set()
            return
        was_away = self.host_offline.is_set()
        self.host_offline.clear()
        self.host_online.set()
        if was_away:
            # paho's callback thread must stay free to run the publishes' handshakes
            threading.Thread(target=self.forward, daemon=True).start()

    def forward(self):
        """A new birth, then what was stored while the host was away (historical, in order)."""
        self.birth()
        with self.lock:
            stored, self.stored = self.stored, []
        for device, values, timestamp in stored:
            self.data(device, values, timestamp=timestamp, historical=True)
        self.forwarded.set()

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()

    # ------------------------------------------------------------------ births and deaths
    def birth(self, timestamp=None):
        """NBIRTH (seq 0, bdSeq, Node Control/Rebirth) then a DBIRTH per device (``timestamp``:
        ms since the epoch, default now)."""
        with self.lock:
            self.seq = -1
            metrics = [
                {"name": codec.BDSEQ_METRIC, "datatype": "UInt64", "value": self.bd_seq},
                {"name": codec.REBIRTH_METRIC, "datatype": "Boolean", "value": False},
            ]
            self._publish(
                self.topic("NBIRTH"), codec.payload(metrics, seq=self._next_seq(), timestamp=timestamp)
            )
            alias = 1
            for device in self.devices:
                metrics = []
                for name, datatype, _default in DEVICE_METRICS:
                    self.aliases[(device, name)] = alias
                    metrics.append(
                        {
                            "name": name,
                            "alias": alias,
                            "datatype": datatype,
                            "value": self.values[device][name],
                        }
                    )
                    alias += 1
                self._publish(
                    self.topic("DBIRTH", device),
                    codec.payload(metrics, seq=self._next_seq(), timestamp=timestamp),
                )

    def data(self, device, values, timestamp=None, by_alias=True, historical=False):
        """DDATA of ``values`` ({metric name: value}); metrics by alias (as after a birth). While
        the primary host is offline: stored (returns None), sent as historical when it is back."""
        with self.lock:
            if self.primary_host and not historical and not self.host_online.is_set():
                for name, value in values.items():
                    self.values.setdefault(device, {})[name] = value
                self.stored.append((device, dict(values), timestamp or codec.now_ms()))
                return None
            metrics = []
            for name, value in values.items():
                datatype = next(dt for n, dt, _v in DEVICE_METRICS if n == name)
                self.values.setdefault(device, {})[name] = value
                spec = {
                    "datatype": datatype,
                    "value": value,
                    "timestamp": timestamp,
                    "omit_datatype": by_alias,
                    "is_historical": historical,
                }
                if by_alias:
                    spec["alias"] = self.aliases[(device, name)]
                else:
                    spec["name"] = name
                metrics.append(spec)
            return self._publish(
                self.topic("DDATA", device), codec.payload(metrics, seq=self._next_seq(), timestamp=timestamp)
            )

    def ddeath(self, device):
        with self.lock:
            return self._publish(self.topic("DDEATH", device), codec.payload([], seq=self._next_seq()))

    def ndeath(self):
        with self.lock:
            death = codec.payload([{"name": codec.BDSEQ_METRIC, "datatype": "UInt64", "value": self.bd_seq}])
            info = self._publish(self.topic("NDEATH"), death, qos=1)
            self.bd_seq = (self.bd_seq + 1) % 256
            self._set_will()
            return info

    def raw(self, kind, payload_bytes, device=None, qos=1):
        """Publish any bytes (e.g. a malformed payload) on one of the node's topics."""
        return self.client.publish(self.topic(kind, device), payload_bytes, qos=qos)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--group", default="Plant1")
    parser.add_argument("--node", default="Line1")
    parser.add_argument("--devices", type=int, default=3)
    parser.add_argument("--rate", type=float, default=10.0, help="metric updates per second, all devices")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--qos", type=int, default=0, choices=(0, 1))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--primary-host", default=None, help="store and forward while its STATE is offline")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    devices = [f"M{i + 1:02d}" for i in range(args.devices)]
    node = EdgeNode(
        args.host, args.port, args.group, args.node, devices, qos=args.qos, primary_host=args.primary_host
    ).connect()
    node.birth()
    sent = 0
    start = time.monotonic()
    try:
        while time.monotonic() - start < args.seconds:
            device = rng.choice(devices)
            values = node.values[device]
            update = {"Counts/Good": values["Counts/Good"] + 1, "Temperature": 20 + rng.random() * 5}
            if rng.random() < 0.05:
                update["Counts/Reject"] = values["Counts/Reject"] + 1
            if rng.random() < 0.01:
                update["Machine/State"] = 2 if values["Machine/State"] == 1 else 1
            node.data(device, update)
            sent += len(update)
            delay = start + sent / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    finally:
        node.ndeath()
        node.close()
    print(
        f"sent {sent} metric updates in {time.monotonic() - start:.1f} s; rebirths answered: {node.rebirth_requests}; "
        f"stored, not yet forwarded: {len(node.stored)}"
    )


if __name__ == "__main__":
    main()
