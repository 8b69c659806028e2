"""Sparkplug metrics → canonical facts, aggregated before the message table. No ORM.

A metric map (rules, per backend) says which metric of which edge node / device means what:

* ``state``: a machine state. ``state_map`` maps state values to loss reason codes; a value
  not in it means running. Leaving a down state gives one ``mes.downtime`` fact (start, end,
  reason, work center); a state change is one fact, however often the value is repeated.
* ``good_count`` / ``good_progress`` / ``reject_count``: a counter (absolute, growing).
  Increments are summed per metric between two flushes into one ``mes.production_completion``
  (partial, not final: the order is marked done with a backorder), ``mes.production_progress``
  (added to the running order, which stays open) or ``mes.scrap`` fact. A value below the last one is a reset (counted from 0) or, with
  ``counter_max``, a rollover (max + 1 − last + value).
* ``measurement``: a numeric value (a temperature, a diameter). Its updates are aggregated per
  metric between two flushes (count, min, max, sum: the mean) into one ``qms.inspection_result``
  fact: one characteristic (the rule's characteristic code, unit and optional limits) whose value
  is the mean; the verdict is fail when the minimum is below the lower limit or the maximum above
  the upper one. The receive step adds the lot (the running order's lot being produced).

What the facts are computed from (last counter value and its timestamp, current state and
since when) is the ``state`` dict, persisted by the caller in the same transaction as the
facts: a message redelivered after a crash is older than the persisted timestamp (or as old,
with a counter value not above the persisted one) and adds nothing.

Store and forward: while its primary host is away an edge node keeps its data; when the host is
back it sends a new birth (current values) and then the stored data as historical metrics
(``is_historical``, original timestamps), older than the birth. Updates are therefore applied
per metric in timestamp order, not in arrival order: historical updates, and birth values of a
metric already known, wait in ``pending`` (persisted with the state) and are applied sorted
(``settle``) when the node's next live data arrives (it sent what it stored before), at its
death, at a checkpoint when no birth waits among them, or ``HOLD_MS`` after a birth. A downtime
that began and ended while the host was away thus becomes one fact with its own start and end,
and counters (absolute) are counted between consecutive values in time. Updates older than
what is known for their metric (a redelivery, already applied) still add nothing. Fact ids are derived from edge node, device, metric and timestamps only, so the
same facts get the same ids (the receive step stores them once).
"""

import copy
import hashlib
from datetime import UTC, datetime

CONTRACTS = {
    "state": "mes.downtime",
    "good_count": "mes.production_completion",
    "good_progress": "mes.production_progress",
    "reject_count": "mes.scrap",
    "measurement": "qms.inspection_result",
}
HOLD_MS = 60_000  # a birth's values wait at most this long for the stored data that follows


def rfc3339_ms(ms):
    """RFC 3339 UTC text with milliseconds of a Sparkplug timestamp (ms since the epoch)."""
    moment = datetime.fromtimestamp(ms / 1000.0, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def fact_id(*parts):
    """A message id of at most 128 characters (the contracts' limit), stable for its parts."""
    text = ":".join(str(p) for p in parts if p not in (None, ""))
    if len(text) <= 120:
        return text
    return f"{text[:80]}~{hashlib.sha256(text.encode()).hexdigest()[:32]}"


def parse_state_map(text):
    """``"2=breakdown, 3=setup"`` → {"2": "breakdown", "3": "setup"}; ValueError naming the bad item."""
    result = {}
    for item in (text or "").replace("\n", ",").split(","):
        item = item.strip()
        if not item:
            continue
        value, sep, reason = item.partition("=")
        if not sep or not value.strip() or not reason.strip():
            raise ValueError(f"State map item {item!r} is not value=loss reason code")
        result[value.strip()] = reason.strip()
    return result


def state_key(value):
    """State values compare as text: 2, 2.0 and "2" are one state; True is "true"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Rule:
    __slots__ = (
        "rule_id",
        "edge_node",
        "device",
        "metric",
        "kind",
        "workcenter",
        "state_map",
        "uom",
        "product",
        "counter_max",
        "characteristic",
        "lower",
        "upper",
        "unit",
    )

    def __init__(self, rule_id, edge_node, device, metric, kind, workcenter="", state_map=None, **kw):
        self.rule_id = rule_id
        self.edge_node = edge_node or ""
        self.device = device or ""
        self.metric = metric
        self.kind = kind
        self.workcenter = workcenter or ""
        self.state_map = state_map or {}
        self.uom = kw.get("uom") or "Units"
        self.product = kw.get("product") or ""
        self.counter_max = kw.get("counter_max") or 0
        # measurement: the quality characteristic, its limits (None: no limit) and unit
        self.characteristic = kw.get("characteristic") or metric
        self.lower = kw.get("lower")
        self.upper = kw.get("upper")
        self.unit = kw.get("unit") or ""


class Aggregator:
    """Rules of one backend, the state of their metrics, the facts waiting for a flush."""

    def __init__(self, group, rules=(), state=None, buckets=None, pending=None):
        self.group = group
        self.rules = {}
        self.set_rules(rules)
        self.state = copy.deepcopy(state or {})  # key text -> dict (see module doc)
        self.facts = []  # facts of state changes, in order
        # key text -> {node, device, metric, qty, first, last}: counter increments not yet a fact.
        # Plain data: persisted with the state at every checkpoint, so that a checkpoint (which
        # lets the listener acknowledge) need not turn them into a fact before the interval ends.
        self.buckets = copy.deepcopy(buckets or {})
        # key text -> {node, device, metric, held, updates: [[timestamp, value], ...]}: updates
        # waiting to be applied in timestamp order (``held``: when a birth value came in, ms).
        self.pending = copy.deepcopy(pending or {})
        self._marks = {}  # key text -> {(timestamp, value key)} of its pending updates
        self.unmapped = {}  # (node, device) -> number of metric updates without a rule
        self.dirty = set()  # keys whose state or bucket changed since the last commit

    def set_rules(self, rules):
        self.rules = {(r.edge_node, r.device, r.metric): r for r in rules}

    def rule(self, edge_node, device, metric):
        """The rule of a metric: for this node and device, then any node, then any device of
        this node (or the node's own metrics), then anywhere."""
        device = device or ""
        for key in (
            (edge_node, device, metric),
            ("", device, metric),
            (edge_node, "", metric),
            ("", "", metric),
        ):
            found = self.rules.get(key)
            if found is not None:
                return found
        return None

    @staticmethod
    def key(edge_node, device, metric):
        return f"{edge_node}/{device or ''}/{metric}"

    def workcenter(self, rule, edge_node, device):
        return rule.workcenter or device or edge_node

    # ------------------------------------------------------------------ feeding
    def feed(self, edge_node, device, metric, value, timestamp, historical=False, birth=False, now=None):
        """One metric update; returns True when a rule took it, False when it is only counted.

        ``historical``: stored and forwarded by the edge node; ``birth``: a value of a birth
        certificate; ``now``: ms since the epoch (when a birth value starts to wait)."""
        if self.pending and not (historical or birth):
            # live data: the node has sent what it stored; what waits comes first, in order
            self.settle(edge_node, device)
        rule = self.rule(edge_node, device, metric)
        if rule is None:
            counter = (edge_node, device or "")
            self.unmapped[counter] = self.unmapped.get(counter, 0) + 1
            return False
        key = self.key(edge_node, device, metric)
        if historical or (birth and (key in self.state or key in self.pending)):
            self._hold(key, edge_node, device, metric, value, timestamp, birth, now)
            return True
        self._apply(rule, key, edge_node, device, value, timestamp)
        return True

    def _hold(self, key, edge_node, device, metric, value, timestamp, birth, now):
        entry = self.pending.get(key)
        if entry is None:
            entry = self.pending[key] = {
                "node": edge_node,
                "device": device or "",
                "metric": metric,
                "held": None,
                "updates": [],
            }
        # a redelivery of an update still waiting is kept once (an index per key, in memory)
        marks = self._marks.get(key)
        if marks is None:
            marks = self._marks[key] = {(ts, state_key(v)) for ts, v in entry["updates"]}
        mark = (timestamp, state_key(value))
        if mark not in marks:
            marks.add(mark)
            entry["updates"].append([timestamp, value])
        if birth and entry["held"] is None:
            entry["held"] = now if now is not None else timestamp
        self.dirty.add(key)

    def settle(self, edge_node, device=None, all_devices=False, now=None):
        """Apply the waiting updates of a node's device (or node metrics), or of all its
        devices, in timestamp order. With ``edge_node`` None: every key that waits for no birth
        (or whose birth waited ``HOLD_MS`` by ``now``)."""
        for key, entry in list(self.pending.items()):
            if edge_node is None:
                held = entry["held"]
                if held is not None and (now is None or now - held < HOLD_MS):
                    continue
            elif entry["node"] != edge_node or (not all_devices and entry["device"] != (device or "")):
                continue
            del self.pending[key]
            self._marks.pop(key, None)
            self.dirty.add(key)
            rule = self.rule(entry["node"], entry["device"], entry["metric"])
            if rule is None:
                continue  # its rule was removed meanwhile
            for timestamp, value in sorted(entry["updates"], key=lambda u: u[0]):
                self._apply(rule, key, entry["node"], entry["device"], value, timestamp)

    def _apply(self, rule, key, edge_node, device, value, timestamp):
        if rule.kind == "state":
            self._feed_state(rule, key, edge_node, device, value, timestamp)
        elif rule.kind == "measurement":
            self._feed_measurement(rule, key, edge_node, device, value, timestamp)
        else:
            self._feed_counter(rule, key, edge_node, device, value, timestamp)

    def _feed_state(self, rule, key, edge_node, device, value, timestamp):
        current = self.state.get(key)
        value_key = state_key(value)
        if current is not None and timestamp < current.get("seen", current["since"]):
            return  # older than what is known: a redelivery
        if current is not None and current["value"] == value_key:
            current["seen"] = timestamp
            self.dirty.add(key)
            return  # no change
        if current is not None and current.get("reason"):
            self.facts.append(
                {
                    "contract": CONTRACTS["state"],
                    "external_id": fact_id(
                        "sp", self.group, edge_node, device, rule.metric, "down", current["since"]
                    ),
                    "workcenter": self.workcenter(rule, edge_node, device),
                    "payload": {
                        "workcenter": self.workcenter(rule, edge_node, device),
                        "start": rfc3339_ms(current["since"]),
                        "end": rfc3339_ms(timestamp),
                        "reason": current["reason"],
                        "description": f"Sparkplug {edge_node}/{device or '-'} {rule.metric} = {current['value']}",
                    },
                    "at": timestamp,
                }
            )
        self.state[key] = {
            "value": value_key,
            "since": timestamp,
            "seen": timestamp,
            "reason": rule.state_map.get(value_key),
        }
        self.dirty.add(key)

    def _feed_counter(self, rule, key, edge_node, device, value, timestamp):
        if value is None or isinstance(value, bool) or not isinstance(value, int | float):
            return
        current = self.state.get(key)
        if current is None:
            # The first value ever seen is the baseline: what came before is not known.
            self.state[key] = {"last": value, "ts": timestamp}
            self.dirty.add(key)
            return
        last = current["last"]
        if timestamp < current["ts"] or (timestamp == current["ts"] and value <= last):
            return  # a redelivery of what is already counted (counters are absolute)
        if value >= last:
            delta = value - last
        elif rule.counter_max and last <= rule.counter_max:
            delta = rule.counter_max + 1 - last + value  # rollover
        else:
            delta = value  # reset to 0, then counted up to value
        self.state[key] = {"last": value, "ts": timestamp}
        self.dirty.add(key)
        if delta <= 0:
            return
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = {
                "node": edge_node,
                "device": device,
                "metric": rule.metric,
                "qty": 0,
                "first": timestamp,
                "last": timestamp,
            }
        bucket["qty"] += delta
        bucket["last"] = timestamp

    def _feed_measurement(self, rule, key, edge_node, device, value, timestamp):
        if value is None or isinstance(value, bool) or not isinstance(value, int | float):
            return
        if value != value or value in (float("inf"), float("-inf")):
            return  # NaN / infinite: no measurement (and no valid JSON number)
        current = self.state.get(key)
        if current is not None and timestamp <= current["ts"]:
            return  # a redelivery of what is already aggregated (or stored as a fact)
        self.state[key] = {"ts": timestamp}
        self.dirty.add(key)
        bucket = self.buckets.get(key)
        if bucket is None or "count" not in bucket:
            bucket = self.buckets[key] = {
                "node": edge_node,
                "device": device,
                "metric": rule.metric,
                "count": 0,
                "min": value,
                "max": value,
                "sum": 0,
                "first": timestamp,
                "last": timestamp,
            }
        bucket["count"] += 1
        bucket["sum"] += value
        bucket["min"] = min(bucket["min"], value)
        bucket["max"] = max(bucket["max"], value)
        bucket["last"] = timestamp

    def _measurement_fact(self, rule, bucket):
        """The ``qms.inspection_result`` fact of a measurement bucket (without lot, product and
        origin: the running order's, added by the receive step)."""
        node, device = bucket["node"], bucket["device"]
        count, low, high = bucket["count"], bucket["min"], bucket["max"]
        mean = round(bucket["sum"] / count, 6)
        failed = (rule.lower is not None and low < rule.lower) or (
            rule.upper is not None and high > rule.upper
        )
        verdict = "fail" if failed else "pass"
        line = {
            "characteristic": rule.characteristic[:128],
            "description": f"Mean of {count} values, min {low:g}, max {high:g}"[:256],
            "value": mean,
            "result": verdict,
        }
        if rule.unit:
            line["unit"] = rule.unit[:32]
        if rule.lower is not None:
            line["lower_limit"] = rule.lower
        if rule.upper is not None:
            line["upper_limit"] = rule.upper
        external_id = fact_id(
            "sp", self.group, node, device, rule.metric, f"{bucket['first']}-{bucket['last']}"
        )
        return {
            "contract": CONTRACTS["measurement"],
            "external_id": external_id,
            "workcenter": self.workcenter(rule, node, device),
            "payload": {
                "inspection_id": external_id,
                "evaluated_at": rfc3339_ms(bucket["last"]),
                "verdict": verdict,
                "system": f"Sparkplug {self.group}/{node}/{device or '-'}"[:128],
                "note": (
                    f"Sparkplug metric {rule.metric}: {count} values from {rfc3339_ms(bucket['first'])} "
                    f"to {rfc3339_ms(bucket['last'])}; min {low:g}, max {high:g}, mean {mean:g}."
                )[:4000],
                "characteristics": [line],
            },
            "at": bucket["last"],
        }

    # ------------------------------------------------------------------ flushing
    def pending_facts(self, counters=True):
        """The facts waiting: state changes in order, then (with ``counters``, at the end of a
        flush interval) one per counter with increments and per measurement with values. Dicts with contract, external_id,
        workcenter, payload (without work order and message id), at. Cleared by ``committed``."""
        facts = list(self.facts)
        for bucket in self.buckets.values() if counters else ():
            node, device = bucket["node"], bucket["device"]
            rule = self.rule(node, device, bucket["metric"])
            if rule is None or rule.kind == "state" or ("count" in bucket) != (rule.kind == "measurement"):
                continue  # its rule was removed (or changed) since: nothing to say what it means
            if rule.kind == "measurement":
                facts.append(self._measurement_fact(rule, bucket))
                continue
            payload = {"quantity": bucket["qty"], "uom": rule.uom}
            if rule.kind == "good_count":
                payload["final"] = False
            elif rule.kind == "reject_count" and rule.product:
                payload["product"] = rule.product
            facts.append(
                {
                    "contract": CONTRACTS[rule.kind],
                    "external_id": fact_id(
                        "sp", self.group, node, device, rule.metric, f"{bucket['first']}-{bucket['last']}"
                    ),
                    "workcenter": self.workcenter(rule, node, device),
                    "payload": payload,
                    "at": bucket["last"],
                }
            )
        return facts

    def committed(self, counters=True):
        """The pending facts (with ``counters``: the counter facts too) and counts are stored."""
        self.facts = []
        if counters:
            self.buckets = {}
        self.unmapped = {}
        self.dirty = set()

    def snapshot(self, keys):
        """{(edge node, device): {"state": {...}, "buckets": {...}, "pending": {...}}} of the
        records of ``keys`` (all their keys: a record keeps the whole state of its node / device)."""
        records = {tuple(k.split("/", 2)[:2]) for k in keys}
        out = {rec: {"state": {}, "buckets": {}, "pending": {}} for rec in records}
        for part, source in (("state", self.state), ("buckets", self.buckets), ("pending", self.pending)):
            for key, value in source.items():
                rec = tuple(key.split("/", 2)[:2])
                if rec in out:
                    out[rec][part][key] = value
        return out
