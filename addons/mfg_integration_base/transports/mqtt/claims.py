"""Topic claims: an addon takes over some topic filters of a backend's MQTT connection.

The base listener stores every message of ``<prefix>/<plant>/<system>/+`` as one row. A wire
format that is not "one message = one row" (Sparkplug B: a stateful session per edge node,
protobuf payloads, metrics aggregated before they become facts) claims its own topic filters
on the same connection instead, and receives the raw messages in the listener process.

An addon registers a factory under a name (``register``) and adds ``{name: config}`` to the
``claims`` entry of the backend's MQTT settings (``mfg.backend._mfg_mqtt_settings``;
``config`` must be comparable with ``==``: the listener restarts the client when it changes).
For each claim of a backend the listener then:

* sets the claim's will (``TopicClaim.will``) before connecting (one will per connection),
* subscribes the claim's filters on every (re)connect and calls ``TopicClaim.on_connect``,
* runs the claim in a thread of its own (``ClaimWorker``): the claim's messages (by filter)
  are handed to ``TopicClaim.on_message`` one at a time, in the order received, and
  ``TopicClaim.tick`` is called at least every ``TICK`` seconds. A claim acknowledges its
  QoS 1 messages itself (``services.ack``) once what they carried is committed.

``services`` (given by the runner) holds ``in_db(fn)``: run ``fn(env)`` in a new cursor as
superuser and commit. No ORM in this module.
"""

import logging
import queue
import threading
import time

_logger = logging.getLogger(__name__)

TICK = 0.5  # seconds between two ``tick`` calls when no message comes

_factories = {}


def register(name, factory):
    """``factory(backend_id, config, services)`` -> a ``TopicClaim``, or None when this listener
    is not to serve the claim (e.g. it names another listener)."""
    _factories[name] = factory


def factory(name):
    return _factories.get(name)


class Services:
    """What a claim may use in the listener process (given by the runner)."""

    def __init__(self, in_db=None, listener_name=""):
        self.in_db = in_db
        self.listener_name = listener_name

    @staticmethod
    def ack(item):
        """Acknowledge a received QoS 1/2 message (a ``ClaimedMessage``)."""
        if item.qos > 0:
            try:
                item.client.ack(item.mid, item.qos)
            except Exception:
                _logger.debug("mfg mqtt: ack of mid %s failed", item.mid, exc_info=True)


class ClaimedMessage:
    __slots__ = ("client", "mid", "qos", "topic", "payload", "retain", "received")

    def __init__(self, client, msg):
        self.client = client
        self.mid = msg.mid
        self.qos = msg.qos
        self.topic = msg.topic
        self.payload = msg.payload
        self.retain = msg.retain
        self.received = time.time()


class TopicClaim:
    """Base class of a claim; every method runs in the claim's worker thread except ``will``
    (before connecting) and ``on_connect`` (paho's network thread)."""

    def __init__(self, backend_id, config, services):
        self.backend_id = backend_id
        self.config = config
        self.services = services
        self.client = None  # the paho client, set by the listener before connecting

    def filters(self):
        """Topic filters to subscribe (QoS 1)."""
        return []

    def will(self):
        """``(topic, payload, qos, retain)`` of the connection's will, or None."""
        return None

    def on_connect(self, client):
        """Called after every (re)connect, once the filters are subscribed."""

    def on_disconnect(self, client):
        """Called when the connection is lost (paho's network thread)."""

    def on_message(self, item):
        """One message (``ClaimedMessage``) of one of the filters."""
        raise NotImplementedError

    def tick(self, now):
        """Periodic work (flushes), at least every ``TICK`` seconds."""

    def stop(self):
        """The listener stops or the backend's settings changed: flush what can be flushed."""


class ClaimWorker:
    """The thread of one claim: messages in order, ticks, errors logged and survived."""

    def __init__(self, claim):
        self.claim = claim
        self.inbox = queue.Queue()
        self.stopping = threading.Event()
        self.thread = threading.Thread(
            target=self._loop, name=f"mfg-mqtt-claim-{claim.backend_id}", daemon=True
        )
        self.stats = {"messages": 0, "errors": 0}

    def attach(self, client):
        self.claim.client = client
        will = self.claim.will()
        if will:
            topic, payload, qos, retain = will
            client.will_set(topic, payload, qos=qos, retain=retain)
        for sub in self.claim.filters():
            client.message_callback_add(sub, self._on_message)

    def _on_message(self, client, _userdata, msg):
        self.inbox.put(ClaimedMessage(client, msg))

    def subscribe(self, client):
        for sub in self.claim.filters():
            client.subscribe(sub, qos=1)
        try:
            self.claim.on_connect(client)
        except Exception:
            _logger.exception("mfg mqtt: claim of backend %s failed on connect", self.claim.backend_id)

    def disconnected(self, client):
        try:
            self.claim.on_disconnect(client)
        except Exception:
            _logger.exception("mfg mqtt: claim of backend %s failed on disconnect", self.claim.backend_id)

    def start(self):
        self.thread.start()

    def stop(self, timeout=10):
        self.stopping.set()
        self.thread.join(timeout=timeout)

    def _loop(self):
        last_tick = time.monotonic()
        while True:
            try:
                item = self.inbox.get(timeout=TICK)
            except queue.Empty:
                item = None
            if item is None and self.stopping.is_set():
                break
            try:
                if item is not None:
                    self.stats["messages"] += 1
                    self.claim.on_message(item)
                if item is None or time.monotonic() - last_tick >= TICK:
                    last_tick = time.monotonic()
                    self.claim.tick(time.time())
            except Exception:
                # Never let one message or one flush stop the claim: the claim itself keeps
                # what it could not commit and acknowledges nothing of it.
                self.stats["errors"] += 1
                _logger.exception("mfg mqtt: claim of backend %s failed", self.claim.backend_id)
        try:
            self.claim.stop()
        except Exception:
            _logger.exception("mfg mqtt: claim of backend %s failed to stop", self.claim.backend_id)


def make_workers(backend_id, settings, services):
    """The ClaimWorkers of the claims named in ``settings['claims']`` (unknown names skipped
    with a warning: the addon that registers them is not loaded in this process)."""
    workers = []
    for name, config in (settings.get("claims") or {}).items():
        make = factory(name)
        if make is None:
            _logger.warning("mfg mqtt: backend %s claims %r but no addon registered it", backend_id, name)
            continue
        claim = make(backend_id, config, services)
        if claim is not None:
            workers.append(ClaimWorker(claim))
    return workers
