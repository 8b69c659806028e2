"""The Sparkplug B primary host in the MQTT listener: a topic claim (see
mfg_integration_base/transports/mqtt/claims.py) of ``spBv1.0/<group>/#`` and the host's
``spBv1.0/STATE/<host id>`` on the backend's connection.

In the claim's thread: messages → ``lib/session.py`` (births, aliases, seq, bdSeq) → metric
updates into ``lib/aggregate.py``; Rebirth requests published at once (NCMD). A checkpoint
(when a node or device went online / offline, after ``FLUSH_MESSAGES`` messages, or once a QoS 1
message waited ``ACK_DELAY``) writes in one transaction: the node and device records, the
state-change facts through the base's receive step (``mfg.transport.mqtt._mfg_receive``:
stored, idempotent) and the aggregation state with the counter increments not yet a fact; then,
and only then, the QoS 1 messages are acknowledged. Every ``flush_seconds`` the checkpoint also
turns the counters into facts. A checkpoint that fails keeps everything and is tried again with
backoff.
"""

import json
import logging

from odoo import fields

from odoo.addons.mfg_integration_base.transports.mqtt import claims

from ..lib import aggregate, codec, session
from .sparkplug_facts import store_facts, store_malformed

_logger = logging.getLogger(__name__)

FLUSH_MESSAGES = 500  # a checkpoint after this many messages
ACK_DELAY = 0.2  # seconds a QoS 1 message waits at most for the checkpoint that acknowledges it
COUNTERS = ("rebirths_requested", "metrics_counted", "metrics_applied", "malformed_count", "messages_count")


def _when(ms):
    return fields.Datetime.to_string(
        aggregate.datetime.fromtimestamp(ms / 1000.0, tz=aggregate.UTC).replace(tzinfo=None)
    )


class SparkplugClaim(claims.TopicClaim):
    def __init__(self, backend_id, config, services):
        super().__init__(backend_id, config, services)
        self.group, self.host_id, self.flush_seconds, _listener = config
        self.state_topic = f"{codec.NAMESPACE}/STATE/{self.host_id}"
        self.session = session.HostSession(self.group)
        self.aggregator = aggregate.Aggregator(self.group)
        self.loaded = False  # rules and persisted state read from the database
        self.state_timestamp = codec.now_ms()
        self.updates = {}  # (edge node, device) -> {"values": {...}, "inc": {...}}
        self.malformed = []  # (topic, raw bytes, error) stored as rejected messages
        self.unacked = []
        self.messages = 0
        self.last_flush = 0.0
        self.urgent = False
        self.failures = 0  # flushes failed in a row (the database is away): wait before the next
        self.retry_at = 0.0

    # ------------------------------------------------------------------ connection
    def filters(self):
        return [f"{codec.NAMESPACE}/{self.group}/#", self.state_topic]

    def _state(self, online):
        return json.dumps({"online": online, "timestamp": self.state_timestamp}).encode()

    def will(self):
        return (self.state_topic, self._state(False), 1, True)

    def on_connect(self, client):
        # Sparkplug 3.0: the birth's timestamp is the will's (set before this connection).
        client.publish(self.state_topic, self._state(True), qos=1, retain=True)
        _logger.info(
            "mfg sparkplug: backend %s is primary host %s of group %s",
            self.backend_id,
            self.host_id,
            self.group,
        )

    def on_disconnect(self, client):
        # The next connection gets a will (and a birth) with a new timestamp.
        self.state_timestamp = codec.now_ms()
        try:
            client.will_set(self.state_topic, self._state(False), qos=1, retain=True)
        except (ValueError, RuntimeError):
            _logger.debug("mfg sparkplug: will not updated", exc_info=True)

    # ------------------------------------------------------------------ messages
    def on_message(self, item):
        if not self.loaded:
            self.services.in_db(self._load)
        if item.topic == self.state_topic:
            self._own_state(item)
            return
        if item.qos:
            self.unacked.append(item)
        self.messages += 1
        try:
            topic = codec.parse_topic(item.topic)
        except codec.SparkplugError as exc:
            self.malformed.append((item.topic, bytes(item.payload), str(exc)))
            self.urgent = True
            return
        if topic.group != self.group or topic.message_type in ("NCMD", "DCMD"):
            return
        self._count(topic.edge_node, None, "messages_count")
        for event in self.session.handle(topic, item.payload, item.received):
            self._event(topic, item, event)

    def _own_state(self, item):
        """Another connection's will said we are offline while we are connected: say online again."""
        if item.retain and not item.payload:
            return
        try:
            state = json.loads(bytes(item.payload))
        except ValueError:
            return
        if isinstance(state, dict) and state.get("online") is False and self.client is not None:
            self.client.publish(self.state_topic, self._state(True), qos=1, retain=True)

    def _update(self, edge_node, device):
        return self.updates.setdefault((edge_node, device or ""), {"values": {}, "inc": {}})

    def _count(self, edge_node, device, counter, n=1):
        inc = self._update(edge_node, device)["inc"]
        inc[counter] = inc.get(counter, 0) + n

    def _event(self, topic, item, event):
        node, device = event.edge_node, event.device
        if event.kind == "online":
            values = self._update(node, device)["values"]
            values.update(online=True, last_birth_at=_when(event.data.get("at") or codec.now_ms()))
            if event.data.get("seq") is not None:
                self._update(node, None)["values"]["last_seq"] = event.data["seq"]
            if event.data.get("bd_seq") is not None:
                values["bd_seq"] = event.data["bd_seq"]
            values["last_issue"] = False
            self.urgent = True
        elif event.kind == "offline":
            values = self._update(node, device)["values"]
            values.update(online=False, last_death_at=_when(event.data.get("at") or codec.now_ms()))
            # nothing more of this session follows: what waits for order is applied now
            self.aggregator.settle(node, device, all_devices=device is None)
            if event.data.get("seq") is not None:
                self._update(node, None)["values"]["last_seq"] = event.data["seq"]
            self.urgent = True
        elif event.kind == "seq":
            self._update(node, None)["values"]["last_seq"] = event.data["seq"]
        elif event.kind == "metric":
            taken = self.aggregator.feed(
                node,
                device,
                event.data["metric"],
                event.data["value"],
                event.data["timestamp"],
                historical=event.data.get("historical"),
                birth=event.data.get("birth"),
                now=codec.now_ms(),
            )
            self._count(node, device, "metrics_applied" if taken else "metrics_counted")
        elif event.kind == "rebirth":
            self._request_rebirth(node, event.data["reason"])
        elif event.kind == "ignored":
            self._update(node, device)["values"]["last_issue"] = event.data["reason"][:250]
        elif event.kind == "malformed":
            self._count(node, device, "malformed_count")
            self.malformed.append((item.topic, bytes(item.payload), event.data["error"]))
            self.urgent = True
        elif event.kind == "stale_death":
            _logger.info("mfg sparkplug: stale NDEATH of %s ignored (%s)", node, event.data)

    def _request_rebirth(self, edge_node, reason):
        topic = f"{codec.NAMESPACE}/{self.group}/NCMD/{edge_node}"
        if self.client is not None:
            self.client.publish(topic, codec.rebirth_command().SerializeToString(), qos=0)
        self._count(edge_node, None, "rebirths_requested")
        self._update(edge_node, None)["values"]["last_issue"] = reason[:250]
        self.urgent = True
        _logger.info("mfg sparkplug: rebirth requested from %s/%s: %s", self.group, edge_node, reason)

    # ------------------------------------------------------------------ flushing
    def tick(self, now):
        if now < self.retry_at:
            return
        try:
            self._tick(now)
        except Exception:
            # Everything is kept (nothing acknowledged); tried again with backoff, up to 30 s.
            self.failures += 1
            self.retry_at = now + min(0.5 * 2**self.failures, 30.0)
            raise
        self.failures = 0
        self.retry_at = 0.0

    def _tick(self, now):
        """A checkpoint (node records, state changes, aggregation state; then the acks) when a
        node or device changed, after ``FLUSH_MESSAGES`` messages, or once a QoS 1 message waited
        ``ACK_DELAY``; at the end of the flush interval the counters become facts too."""
        emit = now - self.last_flush >= self.flush_seconds
        oldest = self.unacked[0].received if self.unacked else None
        waiting = oldest is not None and now - oldest >= ACK_DELAY
        if not (emit or self.urgent or waiting or self.messages >= FLUSH_MESSAGES):
            return
        # historical updates that wait for no birth (or waited long enough): applied in order
        self.aggregator.settle(None, now=codec.now_ms())
        counters = emit and bool(self.aggregator.buckets)
        if not (
            self.updates
            or self.malformed
            or self.unacked
            or self.aggregator.facts
            or self.aggregator.dirty
            or counters
        ):
            self.last_flush = now if emit else self.last_flush
            return
        self.services.in_db(lambda env: self._flush(env, counters))
        for item in self.unacked:
            self.services.ack(item)
        self.unacked = []
        self.updates = {}
        self.malformed = []
        self.aggregator.committed(counters=emit)
        self.messages = 0
        self.urgent = False
        if emit:
            self.last_flush = now

    def stop(self):
        try:
            self._tick(float("inf"))
        finally:
            if self.client is not None and self.client.is_connected():
                info = self.client.publish(self.state_topic, self._state(False), qos=1, retain=True)
                try:
                    info.wait_for_publish(2.0)
                except (RuntimeError, ValueError):
                    _logger.debug("mfg sparkplug: offline STATE not confirmed", exc_info=True)

    def _load(self, env):
        backend = env["mfg.backend"].browse(self.backend_id)
        state, buckets, pending = {}, {}, {}
        for rec in env["mfg.sparkplug.node"].search([("backend_id", "=", self.backend_id)]):
            saved = rec._mfg_sparkplug_rule_state()
            state.update(saved.get("state") or {})
            buckets.update(saved.get("buckets") or {})
            pending.update(saved.get("pending") or {})
        rules = backend.sparkplug_rule_ids._mfg_sparkplug_rules()
        self.aggregator = aggregate.Aggregator(self.group, rules, state, buckets, pending)
        self.loaded = True

    def _flush(self, env, counters):
        backend = env["mfg.backend"].browse(self.backend_id)
        Node = env["mfg.sparkplug.node"]
        for (edge_node, device), change in self.updates.items():
            rec = Node._mfg_sparkplug_record(backend, self.group, edge_node, device)
            values = dict(change["values"])
            values["last_message_at"] = fields.Datetime.now()
            rec._mfg_sparkplug_update(values, change["inc"])
        store_malformed(env, backend, self.malformed)
        store_facts(env, backend, self.aggregator.pending_facts(counters=counters))
        # The aggregation state (and the increments not yet a fact), per node / device record,
        # in the same transaction as the facts: what was acknowledged is never counted again.
        keys = set(self.aggregator.dirty)
        if counters:
            keys |= set(self.aggregator.buckets)
        for (edge_node, device), saved in self.aggregator.snapshot(keys).items():
            if counters:
                saved["buckets"] = {}
            rec = Node._mfg_sparkplug_record(backend, self.group, edge_node, device)
            rec._mfg_sparkplug_update({"rule_state": saved}, {})
        self.aggregator.set_rules(backend.sparkplug_rule_ids._mfg_sparkplug_rules())


def make_claim(backend_id, config, services):
    """The claim, unless the backend names another listener as its primary host."""
    listener = config[3]
    if listener and listener != services.listener_name:
        _logger.info(
            "mfg sparkplug: backend %s: primary host is listener %s, not this one", backend_id, listener
        )
        return None
    return SparkplugClaim(backend_id, config, services)


claims.register("sparkplug", make_claim)
