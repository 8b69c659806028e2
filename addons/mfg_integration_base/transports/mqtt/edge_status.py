"""Edge agents' status: a topic claim of every MQTT backend on ``<root>/edge/+/status``
(``<root>`` = ``<prefix>/<plant>/<system>``). No ORM.

A plant's edge agent (``edge/``, no Odoo inside) publishes there, retained, a status JSON at
each heartbeat, and sets the same topic as its MQTT will::

    {"agent": "edge-1", "version": "1.0.0", "online": true, "started_at": "…Z", "sent_at": "…Z",
     "link": "up" | "down" | "unknown",
     "spool": {"depth": 0, "oldest_at": null | "…Z"},
     "cache": {"entries": 12, "newest_at": null | "…Z", "age_seconds": null | 3.5},
     "sources": {…}}
    will: {"agent": "edge-1", "online": false}

``parse_status`` reads it strictly (``StatusError`` names the field and the value); the claim
hands each parsed status to ``mfg.edge.agent._mfg_edge_status`` in a committed cursor, then
acknowledges. A status is a state, not a fact: one that cannot be parsed or stored is logged and
counted (on the agent's record when its id is readable from the topic) and acknowledged all the
same — the next heartbeat, or the retained one at the next subscription, replaces it.
"""

import json
import logging
import math
import re

from ...lib.dates import Rfc3339Error, parse_rfc3339
from . import claims

_logger = logging.getLogger(__name__)

CLAIM = "edge_status"
MAX_BYTES = 64 * 1024  # a status is small; the sources part is kept as text, bounded
MAX_DEPTH = 8
AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
LINKS = ("up", "down", "unknown")
MAX_COUNT = 10**12


class StatusError(ValueError):
    pass


def status_filter(root):
    return f"{root}/edge/+/status"


def agent_of_topic(topic):
    """The agent id of ``<root>/edge/<agent>/status``, or None when it is not a valid id."""
    parts = topic.rsplit("/", 3)
    if len(parts) != 4 or parts[1] != "edge" or parts[3] != "status":
        return None
    return parts[2] if AGENT_ID.fullmatch(parts[2]) else None


def _depth(value, level=0):
    if level > MAX_DEPTH:
        raise StatusError(f"the status is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for item in value.values():
            _depth(item, level + 1)
    elif isinstance(value, list):
        for item in value:
            _depth(item, level + 1)


def _shown(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "…"


def _fail(field, value, what):
    raise StatusError(f"Field '{field}': {_shown(value)} {what}")


def _text(data, field, max_length=64):
    value = data.get(field.rsplit("/", 1)[-1])
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        _fail(field, value, f"must be a non-empty text of at most {max_length} characters")
    return value


def _date(value, field, optional=False):
    if value is None and optional:
        return None
    try:
        return parse_rfc3339(value, field)
    except Rfc3339Error as exc:
        raise StatusError(exc.message) from None


def _count(value, field):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        _fail(field, value, "must be a whole number from 0")
    return value


def _seconds(value, field):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        _fail(field, value, "must be a number of seconds from 0, or null")
    return float(value)


def _object(data, field):
    value = data.get(field)
    if not isinstance(value, dict):
        _fail(field, value, "must be an object")
    return value


def parse_status(payload, agent):
    """The status of ``agent`` (its id from the topic) as a dict of plain values: ``online`` and,
    when online, ``version``, ``started_at``, ``sent_at`` (naive UTC datetimes), ``link``,
    ``spool_depth``, ``spool_oldest_at``, ``cache_entries``, ``cache_newest_at``,
    ``cache_age_seconds``, ``sources`` (JSON text or None). Unknown keys are ignored (a newer
    agent may say more). Raises StatusError naming the field and the value."""
    if len(payload) > MAX_BYTES:
        raise StatusError(f"the status is {len(payload):,} bytes, more than {MAX_BYTES:,}")
    try:
        data = json.loads(payload, parse_constant=lambda c: _fail("status", c, "is not a finite number"))
    except (UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, StatusError):
            raise
        raise StatusError(f"the status is not JSON: {exc}") from None
    if not isinstance(data, dict):
        _fail("status", data, "must be a JSON object")
    _depth(data)
    if data.get("agent") != agent:
        _fail("agent", data.get("agent"), f"must be the agent of the topic, {agent!r}")
    online = data.get("online")
    if not isinstance(online, bool):
        _fail("online", online, "must be true or false")
    if not online:  # the will: nothing else is promised
        return {"online": False}
    link = data.get("link")
    if link not in LINKS:
        _fail("link", link, f"must be one of {', '.join(LINKS)}")
    spool = _object(data, "spool")
    cache = _object(data, "cache")
    sources = data.get("sources")
    if sources is not None and not isinstance(sources, dict):
        _fail("sources", sources, "must be an object")
    return {
        "online": True,
        "version": _text(data, "version"),
        "started_at": _date(data.get("started_at"), "started_at"),
        "sent_at": _date(data.get("sent_at"), "sent_at"),
        "link": link,
        "spool_depth": _count(spool.get("depth"), "spool/depth"),
        "spool_oldest_at": _date(spool.get("oldest_at"), "spool/oldest_at", optional=True),
        "cache_entries": _count(cache.get("entries"), "cache/entries"),
        "cache_newest_at": _date(cache.get("newest_at"), "cache/newest_at", optional=True),
        "cache_age_seconds": _seconds(cache.get("age_seconds"), "cache/age_seconds"),
        "sources": json.dumps(sources, indent=1, sort_keys=True) if sources is not None else None,
    }


class EdgeStatusClaim(claims.TopicClaim):
    """``config``: the backend's topic root ``<prefix>/<plant>/<system>``."""

    def __init__(self, backend_id, config, services):
        super().__init__(backend_id, config, services)
        self.stats = {"statuses": 0, "refused": 0, "failed": 0}

    def filters(self):
        return [status_filter(self.config)]

    def on_message(self, item):
        try:
            self.handle(item.topic, item.payload, item.received, item.retain)
        finally:
            # a state, not a fact: the next heartbeat (or the retained one) replaces what was lost
            self.services.ack(item)

    def handle(self, topic, payload, received, retained=False):
        """Parse and store one status; returns the parsed status, or None when refused."""
        agent = agent_of_topic(topic)
        if agent is None:
            self.stats["refused"] += 1
            _logger.warning(
                "mfg edge: backend %s: status on %r names no valid agent id", self.backend_id, topic
            )
            return None
        try:
            status = parse_status(payload, agent)
        except StatusError as exc:
            self.stats["refused"] += 1
            _logger.warning(
                "mfg edge: backend %s: status of agent %s refused: %s", self.backend_id, agent, exc
            )
            self._store(agent, None, received, retained, error=str(exc))
            return None
        self.stats["statuses"] += 1
        self._store(agent, status, received, retained)
        return status

    def _store(self, agent, status, received, retained, error=None):
        def write(env):
            env["mfg.edge.agent"]._mfg_edge_status(
                self.backend_id, agent, status, received, retained=retained, error=error
            )

        try:
            self.services.in_db(write)
        except Exception:
            self.stats["failed"] += 1
            _logger.exception("mfg edge: backend %s: status of agent %s not stored", self.backend_id, agent)


claims.register(CLAIM, EdgeStatusClaim)
