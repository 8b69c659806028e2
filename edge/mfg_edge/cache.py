"""The reference cache: the latest payload Odoo published (retained) on each ``<root>/odoo/...`` topic.

Odoo publishes reference data as retained messages on ``<root>/odoo/<contract>.v<version>/<ordering key>``
(e.g. ``erp.lot_status_changed`` for lot holds, ``erp.work_order_release`` for released work
orders); the agent keeps the last payload of every topic in SQLite with the time it arrived, so
its answers survive its own restarts and a WAN cut. An empty retained payload clears the topic
(MQTT's way to delete a retained message).

``lot_hold`` and ``work_order_material`` answer the plant's questions with the age of the answer;
``stale`` is decided by the caller (the link state and the configured maximum age).
"""

import json
import re
import threading
import time

from .spool import connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS cache (
    topic TEXT PRIMARY KEY,
    contract TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS cache_contract ON cache (contract);
"""
VERSION = re.compile(r"\.v[0-9]+$")
LOT_STATUS = "erp.lot_status_changed"
WORK_ORDER_RELEASE = "erp.work_order_release"
HOLD_STATES = {"held": True, "released": False}


class Cache:
    def __init__(self, path, topic_root):
        self.conn = connect(path)
        self.conn.executescript(SCHEMA)
        self.prefix = f"{topic_root}/odoo/"
        self._lock = threading.Lock()

    def contract_of(self, topic):
        """The contract code of ``<root>/odoo/<contract>[/...]`` without its version (Odoo's
        topic level is ``<code>.v<version>``, e.g. ``erp.lot_status_changed.v1``), or None for
        another topic."""
        if not topic.startswith(self.prefix):
            return None
        return VERSION.sub("", topic[len(self.prefix) :].split("/", 1)[0]) or None

    def put(self, topic, payload, received_at=None):
        """Keep ``payload`` (bytes) as the latest of ``topic``; empty clears it. Returns False for
        a payload that is not a JSON object (kept out: the answers read JSON)."""
        contract = self.contract_of(topic)
        if contract is None:
            return False
        with self._lock:
            if not payload:
                self.conn.execute("DELETE FROM cache WHERE topic = ?", (topic,))
                return True
            try:
                text = payload.decode("utf-8")
                if not isinstance(json.loads(text), dict):
                    return False
            except ValueError:
                return False
            self.conn.execute(
                "INSERT INTO cache (topic, contract, payload, received_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (topic) DO UPDATE SET contract = excluded.contract, payload = excluded.payload, "
                "received_at = excluded.received_at",
                (topic, contract, text, received_at or time.time()),
            )
        return True

    def stats(self):
        """``{"entries", "newest_at"}``."""
        with self._lock:
            entries, newest = self.conn.execute("SELECT count(*), max(received_at) FROM cache").fetchone()
        return {"entries": entries, "newest_at": newest}

    def _rows(self, contract, path, value):
        with self._lock:
            rows = self.conn.execute(
                f"SELECT payload, received_at FROM cache WHERE contract = ? AND json_extract(payload, '{path}') = ? "
                "ORDER BY received_at DESC",
                (contract, value),
            ).fetchall()
        return [(json.loads(p), at) for p, at in rows]

    def lot_hold(self, lot, product=None):
        """What the cache knows of ``lot`` (optionally of ``product``): ``on_hold`` True / False /
        None (unknown lot, or a status that is neither held nor released), the decision's
        ``status``, ``reason``, ``decided_at`` and when it arrived (``received_at``, epoch s).
        Without ``product`` and several products with that lot name: on hold if any is."""
        rows = [
            (p, at)
            for p, at in self._rows(LOT_STATUS, "$.lot", lot)
            if not product or p.get("product") == product
        ]
        answer = {"lot": lot, "product": product, "on_hold": None, "status": None, "reason": None,
                  "decided_at": None, "received_at": None}  # fmt: skip
        if not rows:
            return answer
        latest = {}
        for payload, at in rows:  # newest first: the first row of each product is its latest
            latest.setdefault(payload.get("product"), (payload, at))
        held = [(p, at) for p, at in latest.values() if p.get("status") == "held"]
        payload, at = held[0] if held else next(iter(latest.values()))
        answer.update(
            product=payload.get("product"),
            on_hold=HOLD_STATES.get(payload.get("status")),
            status=payload.get("status"),
            reason=payload.get("reason"),
            decided_at=payload.get("since") or payload.get("event_at"),
            received_at=at,
        )
        if len(latest) > 1:
            answer["products"] = sorted(str(p) for p in latest)
        return answer

    def work_order_material(self, work_order, material):
        """Is ``material`` a component of the released ``work_order``? ``part_of`` True / False /
        None (work order unknown), with the component's quantity, uom and reserved lots."""
        rows = self._rows(WORK_ORDER_RELEASE, "$.work_order", work_order)
        answer = {"work_order": work_order, "material": material, "part_of": None, "quantity": None,
                  "uom": None, "lots": None, "received_at": None}  # fmt: skip
        if not rows:
            return answer
        payload, at = rows[0]
        components = [c for c in payload.get("components") or [] if isinstance(c, dict)]
        match = next((c for c in components if c.get("component") == material), None)
        answer.update(part_of=match is not None, received_at=at, product=payload.get("product"))
        if match:
            answer.update(quantity=match.get("quantity"), uom=match.get("uom"), lots=match.get("lots"))
        return answer

    def close(self):
        with self._lock:
            self.conn.close()
