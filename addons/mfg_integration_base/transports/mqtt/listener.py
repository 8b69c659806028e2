"""The MQTT listener: loses nothing, acknowledges only what is committed.

One paho client per MQTT backend (persistent session, QoS 1, manual acknowledgement).
paho's network threads only put messages on a queue; one writer thread takes them in
batches (up to ``batch_size`` messages or ``batch_wait`` seconds), hands each batch to
``store`` (which inserts and COMMITS the rows), and only then sends the PUBACKs. If
``store`` fails (database down, restarting), the batch is kept and retried with backoff and
nothing is acknowledged: the broker keeps redelivering, and the unique message id makes a
redelivery harmless. No ORM here: ``store`` and the status callback are given by the caller
(runner.py: the ``odoo mfg_mqtt`` command or the in-server thread).
"""

import logging
import queue
import threading
import time

from . import claims as mqtt_claims
from . import client as mqtt_client

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
        "bare",
        "store_error",
        "retries",
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
        # Isolation steps of a message that could not be stored (see Listener._isolate):
        self.raw_fallback = False  # store the payload base64-encoded (it could not be stored as text)
        self.bare = False  # store it rejected, with only its raw bytes and the storing error
        self.store_error = None  # why storing it as received failed
        self.retries = 0  # transient failures (serialization, deadlock) of the batch it is in


class BackendClient:
    """The subscription of one backend: connect, subscribe on every (re)connect, report status."""

    def __init__(self, backend_id, settings, client_id, inbox, on_status, services=None):
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
        # Topic filters claimed by addons (claims.py): their own will, filters and thread.
        self.claims = mqtt_claims.make_workers(backend_id, settings, services or mqtt_claims.Services())
        for worker in self.claims:
            worker.attach(self.client)

    def start(self):
        for worker in self.claims:
            worker.start()
        kwargs = mqtt_client.connect_kwargs(self.settings, persistent=True)
        self.client.connect_async(**kwargs)
        self.client.loop_start()

    def stop(self):
        for worker in self.claims:
            worker.stop()
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
        for worker in self.claims:
            worker.subscribe(client)
        self.connected = True
        _logger.info(
            "mfg mqtt: backend %s connected (session present: %s), subscribed to %s",
            self.backend_id,
            getattr(flags, "session_present", None),
            topic,
        )
        self.on_status(self.backend_id, True, None)

    def _on_disconnect(self, client, _userdata, _flags, reason_code, _properties):
        self.connected = False
        for worker in self.claims:
            worker.disconnected(client)
        if reason_code.is_failure:
            _logger.warning("mfg mqtt: backend %s disconnected: %s", self.backend_id, reason_code)
            self.on_status(self.backend_id, False, f"disconnected: {reason_code}")

    def _on_message(self, client, _userdata, msg):
        self.inbox.put(InboundMessage(self.backend_id, client, msg))


OUTAGE, RETRY, POISON = "outage", "retry", "poison"
MAX_TRANSIENT_RETRIES = 5


class Listener:
    """Runs the BackendClients and the batch writer."""

    def __init__(
        self,
        store,
        on_status,
        batch_size=100,
        batch_wait=0.05,
        max_backoff=30,
        classify=None,
        services=None,
    ):
        self.store = store
        self.services = services  # given to the topic claims of addons (claims.py)
        # classify(exc) -> OUTAGE: the database is unreachable (wait and retry the same batch,
        # nothing is acknowledged); RETRY: a transient conflict (serialization failure,
        # deadlock: retry the same batch soon, a few times); POISON: something in the batch
        # cannot be stored (split the batch, then store the offending message in a simpler
        # form) so that one poison message never blocks the others.
        self.classify = classify or (lambda exc: OUTAGE)
        self.on_status = on_status
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.max_backoff = max_backoff
        self.inbox = queue.Queue()
        self.clients = {}
        self.stopping = threading.Event()
        self.writer = threading.Thread(target=self._writer_loop, name="mfg-mqtt-writer", daemon=True)
        self.stats = {"stored": 0, "batches": 0, "store_failures": 0, "isolated": 0}

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
                try:
                    bc = BackendClient(
                        backend_id, settings, client_id, self.inbox, self.on_status, self.services
                    )
                except (ValueError, OSError) as exc:  # e.g. TLS material ssl refuses: this backend only
                    self.on_status(backend_id, False, f"{type(exc).__name__}: {exc}")
                    continue
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

    def _isolate(self, backlog, exc):
        """The batch at the head of ``backlog`` could not be stored because of its content.

        Split it into single messages; a single message is stored in simpler forms, one step
        at a time: payload as base64 text, then bare (rejected, raw bytes, no ids or headers,
        with the storing error). Returns False when the message is already bare: then the
        failure is not the message's (a bare row is a base64 text and a topic) but the
        database's, and the caller waits as for an outage.
        """
        pending = backlog[0]
        if len(pending) > 1:
            _logger.warning(
                "mfg mqtt: a batch of %s message(s) could not be stored (%s); isolating the cause",
                len(pending),
                str(exc)[:300],
            )
            backlog[0:1] = [[item] for item in pending]
            return True
        item = pending[0]
        if item.bare:
            return False
        self.stats["isolated"] += 1
        if item.store_error is None:
            item.store_error = f"{type(exc).__name__}: {str(exc).strip()[:500]}"
        if not item.raw_fallback:
            item.raw_fallback = True
        else:
            item.bare = True
        _logger.warning(
            "mfg mqtt: message %s on %s could not be stored (%s); storing it %s",
            item.mid,
            item.topic[:200],
            str(exc)[:300],
            "bare, as rejected" if item.bare else "as raw bytes",
        )
        return True

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
                kind = self.classify(exc)
                if kind == RETRY and pending[0].retries < MAX_TRANSIENT_RETRIES:
                    for item in pending:
                        item.retries += 1
                    self.stopping.wait(0.05 * pending[0].retries)
                    continue
                if kind != OUTAGE and self._isolate(backlog, exc):
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
