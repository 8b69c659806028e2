"""The MQTT listener of one database: the Listener (listener.py) kept in line with the backends
that have MQTT enabled, its batches stored through the MQTT transport, its status written on the
backends. Run by the ``odoo mfg_mqtt`` command (command.py) or, in a one-process dev setup, as a
thread of the server (``start_in_server``). Serves every active backend with MQTT enabled, reloads
when backends change, stores messages in batches and acknowledges them after the commit.
"""

import logging
import socket
import threading
import time

import psycopg2
from psycopg2.pool import PoolError

import odoo
from odoo.tools import config

from ...exceptions import MfgPermanentError
from ...lib import settings
from .claims import Services
from .listener import OUTAGE, POISON, RETRY, Listener

_logger = logging.getLogger(__name__)

RELOAD_INTERVAL = 5.0
STATUS_INTERVAL = 10.0


# SQLSTATE classes of a database that cannot serve anyone right now: connection exception
# (08), insufficient resources (53: too many connections, disk full), operator intervention
# (57: shutdown, cannot connect now), system error (58).
OUTAGE_SQLSTATE_CLASSES = ("08", "53", "57", "58")
# Conflicts with concurrent transactions: the same batch will go through in a moment.
RETRY_SQLSTATES = ("40001", "40P01", "55P03")


def classify_store_error(exc):
    """OUTAGE (the database is unreachable: wait), RETRY (a concurrent conflict: again soon) or
    POISON (something in the batch cannot be stored: isolate it). A message the database
    refuses (e.g. "index row size exceeds btree maximum", SQLSTATE 54000, also an
    OperationalError) is POISON: it must never pause the ingest of every backend."""
    if isinstance(exc, PoolError | psycopg2.InterfaceError):
        return OUTAGE
    if isinstance(exc, psycopg2.Error):
        code = exc.pgcode or ""
        if not code:
            # No SQLSTATE: the client lost the server (connection refused, closed, reset).
            return OUTAGE if isinstance(exc, psycopg2.OperationalError) else POISON
        if code.startswith(OUTAGE_SQLSTATE_CLASSES):
            return OUTAGE
        if code in RETRY_SQLSTATES:
            return RETRY
    return POISON


class MqttRunner:
    """Keeps the Listener's clients in line with the backends of one database."""

    def __init__(self, db_name, listener_name, batch_size=100, batch_wait=0.05):
        self.db_name = db_name
        self.listener_name = listener_name
        self.registry = odoo.modules.registry.Registry(db_name)
        self.listener = Listener(
            self._store,
            self._on_status,
            batch_size=batch_size,
            batch_wait=batch_wait,
            classify=classify_store_error,
            services=Services(in_db=self._in_db, listener_name=listener_name),
        )
        self.stop_event = threading.Event()
        self._status = {}
        self._status_lock = threading.Lock()
        self._signature = None
        self._writer_cr = None  # the writer thread's cursor (_store)

    # -- called from the writer thread
    def _store(self, batch):
        """Store and commit one batch. The writer keeps its cursor from batch to batch (as a
        cron job does), which spares a pooled connection's reset at every batch; on any error
        the cursor is rolled back and dropped, and the next batch starts on a fresh one."""
        cr = self._writer_cr
        if cr is None:
            cr = self._writer_cr = self.registry.cursor()
        try:
            # Inserts only: READ COMMITTED lets listeners of one backend commit side by side.
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            env["mfg.transport.mqtt"]._mfg_receive_batch(batch)
            cr.commit()  # pylint: disable=invalid-commit  # the listener owns its transactions
        except BaseException:
            self._close_writer_cursor()
            raise

    def _close_writer_cursor(self):
        cr, self._writer_cr = self._writer_cr, None
        if cr is None:
            return
        try:
            cr.rollback()
        except Exception:  # a lost connection: closing it is all that is left to do
            _logger.debug("mfg mqtt: rollback of the writer's cursor failed", exc_info=True)
        try:
            cr.close()
        except Exception:
            _logger.debug("mfg mqtt: closing the writer's cursor failed", exc_info=True)

    # -- called from the threads of topic claims (claims.py)
    def _in_db(self, fn):
        """Run ``fn(env)`` as superuser in a new cursor and commit; returns what it returns."""
        with self.registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            return fn(env)

    # -- called from paho threads
    def _on_status(self, backend_id, connected, error):
        with self._status_lock:
            self._status[backend_id] = (connected, error, time.time())

    def _wanted(self):
        with self.registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            backends = env["mfg.backend"].search([("mqtt_enabled", "=", True)])
            signature = tuple((b.id, str(b.write_date)) for b in backends)
            wanted = {}
            for b in backends:
                try:
                    wanted[b.id] = (b._mfg_mqtt_settings(), b._mfg_mqtt_client_id(self.listener_name))
                except MfgPermanentError as exc:  # e.g. a TLS file outside file_roots: not served, said why
                    self._on_status(b.id, False, exc.message)
        return signature, wanted

    def _flush_status(self):
        with self._status_lock:
            status, self._status = self._status, {}
        ids = list(self.listener.clients)
        with self.registry.cursor() as cr:
            for backend_id, (connected, error, _at) in status.items():
                if connected:
                    cr.execute(
                        """UPDATE mfg_backend SET mqtt_state = 'connected', mqtt_last_error = NULL,
                                  mqtt_connected_since = now() AT TIME ZONE 'UTC' WHERE id = %s""",
                        (backend_id,),
                    )
                else:
                    cr.execute(
                        """UPDATE mfg_backend SET mqtt_state = 'disconnected', mqtt_last_error = %s,
                                  mqtt_connected_since = NULL WHERE id = %s""",
                        ((error or "")[:250], backend_id),
                    )
            if ids:
                cr.execute(
                    "UPDATE mfg_backend SET mqtt_seen_at = now() AT TIME ZONE 'UTC' WHERE id IN %s",
                    (tuple(ids),),
                )

    def run(self):
        self.listener.start()
        last_status = 0.0
        while not self.stop_event.is_set():
            try:
                signature, wanted = self._wanted()
                if signature != self._signature:
                    self.listener.reconcile(wanted)
                    self._signature = signature
                if time.monotonic() - last_status >= STATUS_INTERVAL or self._status:
                    self._flush_status()
                    last_status = time.monotonic()
            except Exception:
                _logger.warning("mfg mqtt: could not read the backends; retrying", exc_info=True)
            self.stop_event.wait(RELOAD_INTERVAL)
        _logger.info("mfg mqtt: stopping (stored %s messages in %s batches)", *self._stats())
        self.listener.stop()
        if not self.listener.writer.is_alive():  # never under a writer still storing
            self._close_writer_cursor()

    def _stats(self):
        return self.listener.stats["stored"], self.listener.stats["batches"]

    def stop(self, *_args):
        self.stop_event.set()


def start_in_server():
    """One-process dev setup: run the listener as a thread of the threaded Odoo server.

    Enabled by ``mqtt_listener_in_server = True`` in ``[mfg_integration]``, for the database
    ``db_name`` (its registry is loaded at server start, which calls the addon's post_load).
    Never in prefork servers, ``--stop-after-init``, test runs, shells or other commands:
    production runs ``odoo mfg_mqtt`` as its own process.
    """
    global _inserver_thread
    if not settings.get_bool("mqtt_listener_in_server"):
        return None
    if config["stop_after_init"] or config["test_enable"] or getattr(odoo.cli, "COMMAND", None) != "server":
        return None
    if _inserver_thread is not None or odoo.evented or config["workers"]:
        return None
    db_names = config["db_name"]
    db_name = (db_names[0] if isinstance(db_names, list) else (db_names or "").split(",")[0]).strip()
    if not db_name:
        _logger.warning("mfg mqtt: mqtt_listener_in_server needs db_name; listener not started")
        return None
    listener_name = settings.get_str("mqtt_listener_name") or f"{socket.gethostname()}-server"

    def run():
        time.sleep(5)  # let the server load the registry first
        runner = MqttRunner(db_name, listener_name)
        runner.run()

    _inserver_thread = threading.Thread(target=run, name="mfg-mqtt-listener", daemon=True)
    _inserver_thread.start()
    _logger.info("mfg mqtt: listener thread started in the server for database %s", db_name)
    return _inserver_thread


_inserver_thread = None
