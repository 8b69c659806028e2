"""The MQTT listener: loses nothing, acknowledges only what is committed.

One paho client per MQTT backend (persistent session, QoS 1, manual acknowledgement).
paho's network threads only put messages on a queue; one writer thread takes them in
batches (up to ``batch_size`` messages or ``batch_wait`` seconds), hands each batch to
``store`` (which inserts and COMMITS the rows), and only then sends the PUBACKs. If
``store`` fails (database down, restarting), the batch is kept and retried with backoff and
nothing is acknowledged: the broker keeps redelivering, and the unique message id makes a
redelivery harmless. No ORM here: ``store`` and the status callback are given by the caller
(the ``mfg_mqtt`` CLI command or the in-server thread).
"""

import logging
import queue
import threading
import time

from ..components import mqtt_client

_logger = logging.getLogger(__name__)


class InboundMessage:
    __slots__ = (
        "backend_id",
        "client",
        "mid",
        "qos",
        "topic",
        "payload",
        "user_props",
        "received",
        "raw_fallback",
    )

    def __init__(self, backend_id, client, msg):
        self.backend_id = backend_id
        self.client = client
        self.mid = msg.mid
        self.qos = msg.qos
        self.topic = msg.topic
        self.payload = msg.payload
        self.user_props = mqtt_client.user_properties(msg)
        self.received = time.time()
        self.raw_fallback = False  # store the payload base64-encoded (it could not be stored as text)


class BackendClient:
    """The subscription of one backend: connect, subscribe on every (re)connect, report status."""

    def __init__(self, backend_id, settings, client_id, inbox, on_status):
        self.backend_id = backend_id
        self.settings = settings
        self.client_id = client_id
        self.inbox = inbox
        self.on_status = on_status
        self.client = mqtt_client.make_client(settings, client_id, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.connected = False

    def start(self):
        kwargs = mqtt_client.connect_kwargs(self.settings, persistent=True)
        self.client.connect_async(**kwargs)
        self.client.loop_start()

    def stop(self):
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()

    def _on_connect(self, client, _userdata, flags, reason_code, _properties):
        if reason_code.is_failure:
            self.connected = False
            self.on_status(self.backend_id, False, f"connection refused: {reason_code}")
            return
        topic = mqtt_client.inbound_filter(self.settings)
        client.subscribe(topic, qos=mqtt_client.QOS)
        self.connected = True
        _logger.info(
            "mfg mqtt: backend %s connected (session present: %s), subscribed to %s",
            self.backend_id,
            getattr(flags, "session_present", None),
            topic,
        )
        self.on_status(self.backend_id, True, None)

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties):
        self.connected = False
        if reason_code.is_failure:
            _logger.warning("mfg mqtt: backend %s disconnected: %s", self.backend_id, reason_code)
            self.on_status(self.backend_id, False, f"disconnected: {reason_code}")

    def _on_message(self, client, _userdata, msg):
        self.inbox.put(InboundMessage(self.backend_id, client, msg))


class Listener:
    """Runs the BackendClients and the batch writer."""

    def __init__(self, store, on_status, batch_size=100, batch_wait=0.05, max_backoff=30, is_outage=None):
        self.store = store
        # is_outage(exc) -> True when the database is unreachable (wait and retry the same
        # batch); any other error is blamed on the batch's content (split it, then store the
        # offending message base64-encoded) so that one poison message never blocks the rest.
        self.is_outage = is_outage or (lambda exc: True)
        self.on_status = on_status
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.max_backoff = max_backoff
        self.inbox = queue.Queue()
        self.clients = {}
        self.stopping = threading.Event()
        self.writer = threading.Thread(target=self._writer_loop, name="mfg-mqtt-writer", daemon=True)
        self.stats = {"stored": 0, "batches": 0, "store_failures": 0}

    # -- clients
    def reconcile(self, wanted):
        """``wanted``: {backend_id: (settings, client_id)}. Start, restart or stop clients."""
        for backend_id in list(self.clients):
            current = self.clients[backend_id]
            if backend_id not in wanted or wanted[backend_id] != (current.settings, current.client_id):
                _logger.info("mfg mqtt: stopping client of backend %s", backend_id)
                current.stop()
                del self.clients[backend_id]
        for backend_id, (settings, client_id) in wanted.items():
            if backend_id not in self.clients:
                _logger.info("mfg mqtt: starting client %s for backend %s", client_id, backend_id)
                bc = BackendClient(backend_id, settings, client_id, self.inbox, self.on_status)
                bc.start()
                self.clients[backend_id] = bc

    def start(self):
        self.writer.start()

    def stop(self, timeout=10):
        """Stop receiving, store and acknowledge what was received, then disconnect."""
        for bc in self.clients.values():
            bc.client.on_message = None
        self.stopping.set()
        self.writer.join(timeout=timeout)
        for bc in list(self.clients.values()):
            bc.stop()
        self.clients.clear()

    # -- writer
    def _next_batch(self):
        try:
            first = self.inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.batch_wait
        while len(batch) < self.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self.inbox.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _writer_loop(self):
        backlog = []  # batches still to store, oldest first
        backoff = 0.5
        while True:
            if not backlog:
                if self.stopping.is_set() and self.inbox.empty():
                    return
                batch = self._next_batch()
                if not batch:
                    continue
                backlog.append(batch)
            pending = backlog[0]
            try:
                self.store(pending)
            except Exception as exc:
                self.stats["store_failures"] += 1
                if not self.is_outage(exc):
                    _logger.warning(
                        "mfg mqtt: a batch of %s message(s) could not be stored (%s); isolating the cause",
                        len(pending),
                        exc,
                    )
                    backlog.pop(0)
                    if len(pending) > 1:
                        backlog[0:0] = [[item] for item in pending]
                    elif not pending[0].raw_fallback:
                        pending[0].raw_fallback = True
                        backlog.insert(0, pending)
                    else:
                        _logger.error(
                            "mfg mqtt: message %s on %s cannot be stored at all",
                            pending[0].mid,
                            pending[0].topic,
                        )
                        backlog.insert(0, pending)
                        self.stopping.wait(self.max_backoff)
                    continue
                _logger.warning(
                    "mfg mqtt: could not store a batch of %s message(s); retrying in %.1fs",
                    len(pending),
                    backoff,
                    exc_info=True,
                )
                if self.stopping.wait(backoff) and backoff >= self.max_backoff:
                    return  # stopping while the database stays down: the broker keeps them
                backoff = min(backoff * 2, self.max_backoff)
                continue
            backoff = 0.5
            backlog.pop(0)
            # Committed: now, and only now, acknowledge.
            for item in pending:
                if item.qos > 0:
                    try:
                        item.client.ack(item.mid, item.qos)
                    except Exception:
                        _logger.debug("mfg mqtt: ack of mid %s failed", item.mid, exc_info=True)
            self.stats["stored"] += len(pending)
            self.stats["batches"] += 1
