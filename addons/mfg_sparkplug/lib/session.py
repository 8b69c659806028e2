"""The primary host's view of the edge nodes of one Sparkplug group. Pure Python, no ORM.

Per edge node: online state, bdSeq of its birth, the last ``seq`` (0–255, wraps), its birth
certificate (metric name → alias, datatype) and that of each device. ``HostSession.handle``
takes one message and returns ``Event``s; the caller (the claim) turns them into records,
facts and Rebirth requests. Rules of Sparkplug B 3.0 applied here:

* NBIRTH starts a session: its bdSeq is kept, its seq is the start of the sequence, every
  device of the node is unknown until its DBIRTH.
* NDATA, DBIRTH, DDATA and DDEATH carry the next seq (255 is followed by 0). A gap, data
  before the birth, an alias or device the birth did not declare: the node's data is ignored
  and one Rebirth request is made; nothing more is requested until the node's next NBIRTH
  (or ``rebirth_timeout`` seconds, for a request that got lost).
* NDEATH (the broker-delivered will, or a clean disconnect) counts only with the bdSeq of the
  current birth: an older session's death is stale.
"""

from . import codec

SEQ_MODULO = 256


class Event:
    __slots__ = ("kind", "edge_node", "device", "data")

    def __init__(self, kind, edge_node, device=None, **data):
        self.kind = kind  # online, offline, metric, rebirth, ignored, malformed, stale_death
        self.edge_node = edge_node
        self.device = device
        self.data = data

    def __repr__(self):
        return f"Event({self.kind}, {self.edge_node}, {self.device}, {self.data})"


class BirthCertificate:
    """Metric name → (alias, datatype) of one birth; alias → name."""

    def __init__(self):
        self.by_name = {}
        self.by_alias = {}

    def learn(self, metric):
        if not metric.name:
            raise codec.SparkplugError(f"A birth metric has no name (alias {metric.alias})")
        alias = metric.alias if metric.HasField("alias") else None
        self.by_name[metric.name] = (alias, metric.datatype)
        if alias is not None:
            self.by_alias[alias] = metric.name

    def resolve(self, metric):
        """(name, datatype) of a data metric: by name, else by the birth's alias; None if unknown."""
        if metric.name:
            known = self.by_name.get(metric.name)
            return (metric.name, known[1]) if known else None
        if metric.HasField("alias"):
            name = self.by_alias.get(metric.alias)
            return (name, self.by_name[name][1]) if name is not None else None
        return None


class NodeState:
    def __init__(self, edge_node):
        self.edge_node = edge_node
        self.online = False
        self.bd_seq = None
        self.seq = None
        self.birth = None  # BirthCertificate of the node's own metrics
        self.devices = {}  # device id -> BirthCertificate (None: died)
        self.rebirth_pending_since = None


def expected_seq(seq):
    return (seq + 1) % SEQ_MODULO


class HostSession:
    def __init__(self, group, rebirth_timeout=60.0):
        self.group = group
        self.rebirth_timeout = rebirth_timeout
        self.nodes = {}

    def node(self, edge_node):
        state = self.nodes.get(edge_node)
        if state is None:
            state = self.nodes[edge_node] = NodeState(edge_node)
        return state

    # ------------------------------------------------------------------ entry point
    def handle(self, topic, raw, now):
        """Events of one message on ``topic`` (a ``codec.Topic`` of this group)."""
        node = self.node(topic.edge_node)
        try:
            payload = codec.decode(raw)
        except codec.SparkplugError as exc:
            return [Event("malformed", topic.edge_node, topic.device, error=str(exc))]
        kind = topic.message_type
        if kind == "NBIRTH":
            return self._nbirth(node, payload)
        if kind == "NDEATH":
            return self._ndeath(node, payload)
        if kind in ("NCMD", "DCMD"):
            return []  # commands, ours or another host's
        return self._sequenced(node, topic, payload, now)

    # ------------------------------------------------------------------ node birth and death
    def _nbirth(self, node, payload):
        birth = BirthCertificate()
        bd_seq = None
        events = []
        try:
            for metric in payload.metrics:
                birth.learn(metric)
                if metric.name == codec.BDSEQ_METRIC:
                    bd_seq = codec.metric_value(metric)
        except codec.SparkplugError as exc:
            return [Event("malformed", node.edge_node, error=str(exc))]
        node.online = True
        node.bd_seq = bd_seq
        node.seq = payload.seq if payload.HasField("seq") else 0
        node.birth = birth
        node.devices = {}
        node.rebirth_pending_since = None
        events.append(Event("online", node.edge_node, bd_seq=bd_seq, seq=node.seq, at=payload.timestamp))
        events.extend(self._metrics(node, None, birth, payload, is_birth=True))
        return events

    def _ndeath(self, node, payload):
        bd_seq = None
        for metric in payload.metrics:
            if metric.name == codec.BDSEQ_METRIC:
                try:
                    bd_seq = codec.metric_value(metric)
                except codec.SparkplugError:
                    bd_seq = None
        if node.bd_seq is not None and bd_seq is not None and bd_seq != node.bd_seq:
            return [Event("stale_death", node.edge_node, bd_seq=bd_seq, current=node.bd_seq)]
        was_devices = [d for d, cert in node.devices.items() if cert is not None]
        node.online = False
        node.seq = None
        node.birth = None
        node.devices = {}
        events = [Event("offline", node.edge_node, bd_seq=bd_seq, at=payload.timestamp)]
        # A node's death is its devices' death too.
        events.extend(
            Event("offline", node.edge_node, device, at=payload.timestamp) for device in was_devices
        )
        return events

    # ------------------------------------------------------------------ sequenced messages
    def _sequenced(self, node, topic, payload, now):
        kind = topic.message_type
        if node.birth is None:
            return self._rebirth(node, now, f"{kind} before the node's birth", topic)
        if node.rebirth_pending_since is not None:
            return self._rebirth(node, now, "waiting for the requested rebirth", topic)
        seq = payload.seq if payload.HasField("seq") else None
        if seq is None or seq != expected_seq(node.seq):
            return self._rebirth(
                node,
                now,
                f"sequence gap: {kind} seq {seq} after {node.seq} (expected {expected_seq(node.seq)})",
                topic,
            )
        node.seq = seq
        device = topic.device
        if kind == "DBIRTH":
            birth = BirthCertificate()
            try:
                for metric in payload.metrics:
                    birth.learn(metric)
            except codec.SparkplugError as exc:
                return [Event("malformed", node.edge_node, device, error=str(exc))]
            node.devices[device] = birth
            events = [Event("online", node.edge_node, device, seq=seq, at=payload.timestamp)]
            events.extend(self._metrics(node, device, birth, payload, is_birth=True))
            return events
        if kind == "DDEATH":
            node.devices[device] = None
            return [Event("offline", node.edge_node, device, seq=seq, at=payload.timestamp)]
        if kind == "NDATA":
            return self._data(node, None, node.birth, payload, now, topic)
        # DDATA
        birth = node.devices.get(device)
        if birth is None:
            return self._rebirth(node, now, f"DDATA of device {device!r} before its DBIRTH", topic)
        return self._data(node, device, birth, payload, now, topic)

    def _data(self, node, device, birth, payload, now, topic):
        for metric in payload.metrics:
            if birth.resolve(metric) is None:
                label = metric.name or f"alias {metric.alias}"
                return self._rebirth(node, now, f"metric {label} is not in the birth certificate", topic)
        events = [Event("seq", node.edge_node, device, seq=node.seq)]
        events.extend(self._metrics(node, device, birth, payload))
        return events

    def _metrics(self, node, device, cert, payload, is_birth=False):
        events = []
        for metric in payload.metrics:
            name, datatype = cert.resolve(metric) or (metric.name, metric.datatype)
            if name == codec.BDSEQ_METRIC or name.startswith("Node Control/"):
                continue
            try:
                value = codec.metric_value(metric, datatype)
            except codec.SparkplugError as exc:
                events.append(Event("ignored", node.edge_node, device, metric=name, reason=str(exc)))
                continue
            events.append(
                Event(
                    "metric",
                    node.edge_node,
                    device,
                    metric=name,
                    datatype=codec.DT_NAME.get(metric.datatype or datatype, "Unknown"),
                    value=value,
                    timestamp=metric.timestamp or payload.timestamp,
                    historical=metric.is_historical,
                    birth=is_birth,
                )
            )
        return events

    def _rebirth(self, node, now, reason, topic):
        """Ignore this message; ask for a rebirth unless one is pending (and not timed out)."""
        events = [Event("ignored", node.edge_node, topic.device, reason=reason, message=topic.message_type)]
        pending = node.rebirth_pending_since
        if pending is None or now - pending >= self.rebirth_timeout:
            node.rebirth_pending_since = now
            events.append(Event("rebirth", node.edge_node, reason=reason))
        return events
