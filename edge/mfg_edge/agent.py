"""The agent: one MQTT connection to the plant broker (MQTT 5, persistent session), the publisher
of the spool, the cache subscriber, the heartbeat, and the sources.

Publisher: rows are published in spool order, QoS 1, at most ``publish_window`` unacknowledged
at a time; a row is deleted after its PUBACK (a PUBACK with a failure reason code makes it go
again). paho keeps the unacknowledged ones across a reconnection and sends them again; after a
restart every row still in the spool is published again.

Subscriber (same session): ``<root>/odoo/#`` → the cache; the bridge's notification topic (``1``
/ ``0``, retained by the plant broker) → ``link`` ("up" / "down"; "unknown" before the first
notification or while the agent has no connection to the plant broker).

Heartbeat: every ``heartbeat_seconds``, retained, QoS 1, on ``<root>/edge/<agent id>/status``; the
MQTT will (retained) on the same topic says ``{"agent", "online": false}``.
"""

import json
import logging
import queue
import socket
import threading
import time
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from . import __version__
from .cache import Cache
from .dropfolder import DropFolder
from .rest import RestServer
from .spool import Spool

_logger = logging.getLogger(__name__)
DELETE_EVERY = 0.25  # seconds between two deletes of acknowledged rows


def iso(epoch):
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


class Agent:
    def __init__(self, config):
        self.config = config
        self.started_at = time.time()
        self._events = queue.Queue()  # ("ack", mid, failed) / ("wake",)
        self.spool = Spool(
            config.spool_path,
            config.max_spool_messages,
            config.max_spool_bytes,
            on_put=lambda: self._events.put(("wake",)),
        )
        self.cache = Cache(config.spool_path, config.topic_root)
        self.counts = {
            "rest": {"accepted": 0, "duplicates": 0, "rejected": 0, "refused_full": 0},
            "mqtt": {"published": 0, "acked": 0, "failed": 0, "cache_updates": 0},
        }
        self.connected = threading.Event()
        self.bridge_state = None  # "1" / "0" from the bridge's notification topic
        self.probe_ok = None  # the centre's address answered the last TCP probe (None: not probed)
        self.stop_event = threading.Event()
        self.rest = None
        self.dropfolder = None
        if config.dropfolder:
            self.counts["files"] = {"forwarded": 0, "errors": 0, "waiting": 0, "refused_full": 0}
            self.dropfolder = DropFolder(
                config.dropfolder, config.topic_root, self.spool, self.counts["files"]
            )
        self.client = self._client()
        self._threads = []

    # ------------------------------------------------------------------ MQTT
    def _client(self):
        b = self.config.broker
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=b.client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
        if b.username:
            client.username_pw_set(b.username, b.password or None)
        if b.tls:
            client.tls_set(ca_certs=b.cafile or None, certfile=b.certfile or None, keyfile=b.keyfile or None)
        will = json.dumps({"agent": self.config.agent_id, "online": False})
        client.will_set(self.config.status_topic, will, qos=1, retain=True)
        client.max_inflight_messages_set(self.config.publish_window)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=0.2, max_delay=5)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties):
        if reason_code.is_failure:
            _logger.warning("plant broker refused the connection: %s", reason_code)
            return
        client.subscribe([(self.config.odoo_topic, 1), (self.config.bridge_state_topic, 1)])
        self.connected.set()
        _logger.info("connected to the plant broker %s:%s", self.config.broker.host, self.config.broker.port)
        self._heartbeat()

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties):
        self.connected.clear()
        if not self.stop_event.is_set():
            _logger.warning("lost the plant broker (%s); reconnecting", reason_code)

    def _on_message(self, _client, _userdata, msg):
        if msg.topic == self.config.bridge_state_topic:
            self.bridge_state = msg.payload.decode(errors="replace").strip()
            _logger.info("link to the centre: %s", self.link)
        elif self.cache.put(msg.topic, msg.payload):
            self.counts["mqtt"]["cache_updates"] += 1

    def _on_publish(self, _client, _userdata, mid, reason_code, _properties):
        self._events.put(("ack", mid, reason_code.is_failure))

    @property
    def link(self):
        """ "down" when the bridge says so or the centre's address does not answer; "up" when the
        bridge says so and the probe (if configured) agrees; else "unknown"."""
        if not self.connected.is_set():
            return "unknown"
        if self.bridge_state == "0" or self.probe_ok is False:
            return "down"
        if self.bridge_state == "1" and (self.probe_ok or self.config.central_address is None):
            return "up"
        return "unknown"

    def _probe(self):
        """Mosquitto 2.0 does not publish the bridge's local "0" when the network goes away
        (eclipse-mosquitto issues 2467, 2499: only the centre gets it, as the bridge's will), so
        the agent also checks that the central broker's address accepts a TCP connection."""
        host, port = self.config.central_address
        while not self.stop_event.is_set():
            try:
                socket.create_connection(
                    (host, port), timeout=min(3.0, self.config.link_probe_seconds)
                ).close()
                ok = True
            except OSError:
                ok = False
            if ok != self.probe_ok:
                _logger.info("central broker %s:%s %s", host, port, "reachable" if ok else "NOT reachable")
            self.probe_ok = ok
            self.stop_event.wait(self.config.link_probe_seconds)

    # ------------------------------------------------------------------ publisher
    def _publisher(self):
        inflight = {}  # mid -> spool row id
        acked = []  # rows acknowledged, deleted in one transaction every DELETE_EVERY seconds
        last_delete = time.monotonic()
        cursor = 0
        window = self.config.publish_window
        while not self.stop_event.is_set():
            room = window - len(inflight)
            rows = self.spool.after(cursor, room) if room > 0 else []
            for row_id, topic, payload in rows:
                info = self.client.publish(topic, payload, qos=1)
                inflight[info.mid] = row_id
                cursor = row_id
                self.counts["mqtt"]["published"] += 1
            try:
                event = self._events.get(timeout=DELETE_EVERY if not rows else 0.01)
            except queue.Empty:
                event = None
            while event is not None:
                if event[0] == "ack":
                    row_id = inflight.pop(event[1], None)
                    if row_id is not None and event[2]:
                        self.counts["mqtt"]["failed"] += 1
                        cursor = min(cursor, row_id - 1)  # sent again (and what follows it)
                    elif row_id is not None:
                        acked.append(row_id)
                try:
                    event = self._events.get_nowait()
                except queue.Empty:
                    event = None
            # a delete that a crash loses only sends a row again (harmless): deletes are grouped,
            # so that the disk syncs go to the rows being taken in
            if acked and (len(acked) >= 500 or time.monotonic() - last_delete >= DELETE_EVERY):
                self.spool.delete(acked)
                self.counts["mqtt"]["acked"] += len(acked)
                acked = []
                last_delete = time.monotonic()
        if acked:
            self.spool.delete(acked)

    # ------------------------------------------------------------------ heartbeat
    def status(self):
        now = time.time()
        spool = self.spool.stats()
        cache = self.cache.stats()
        return {
            "agent": self.config.agent_id,
            "version": __version__,
            "online": True,
            "started_at": iso(self.started_at),
            "sent_at": iso(now),
            "link": self.link,
            "spool": {"depth": spool["depth"], "bytes": spool["bytes"], "oldest_at": iso(spool["oldest_at"])},
            "cache": {
                "entries": cache["entries"],
                "newest_at": iso(cache["newest_at"]),
                "age_seconds": None if cache["newest_at"] is None else round(now - cache["newest_at"], 3),
            },
            "sources": {k: dict(v) for k, v in self.counts.items()},
        }

    def _heartbeat(self):
        self.client.publish(self.config.status_topic, json.dumps(self.status()), qos=1, retain=True)

    def _heartbeats(self):
        while not self.stop_event.wait(self.config.heartbeat_seconds):
            if self.connected.is_set():
                self._heartbeat()

    def answer(self, answer):
        """A cache answer with its age and whether to trust it: ``stale`` when the link to the
        centre is not known to be up or the entry is older than ``cache_max_age_seconds``."""
        now = time.time()
        at = answer.get("received_at")
        age = None if at is None else round(now - at, 3)
        link = self.link
        return {
            **answer,
            "received_at": iso(at),
            "age_seconds": age,
            "stale": link != "up" or (age is not None and age > self.config.cache_max_age_seconds),
            "link": link,
        }

    # ------------------------------------------------------------------ sources
    def _dropfolder_loop(self):
        while not self.stop_event.wait(self.config.dropfolder.scan_seconds):
            try:
                self.dropfolder.scan()
            except OSError:
                _logger.exception("drop folder scan failed")

    # ------------------------------------------------------------------ life
    def _thread(self, target, name):
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def start(self):
        b = self.config.broker
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = b.session_expiry
        self.client.connect_async(b.host, b.port, keepalive=b.keepalive, clean_start=False, properties=props)
        self.client.loop_start()
        self._thread(self._publisher, "publisher")
        self._thread(self._heartbeats, "heartbeat")
        if self.config.central_address:
            self._thread(self._probe, "link-probe")
        if self.config.rest.enabled:
            self.rest = RestServer(self).start()
            _logger.info("REST on %s:%s", self.config.rest.bind, self.rest.port)
        if self.dropfolder:
            self._thread(self._dropfolder_loop, "dropfolder")
        return self

    def stop(self):
        """Graceful stop: sources first, then say offline (the will is for the ungraceful case)."""
        if self.rest:
            self.rest.stop()
        self.stop_event.set()
        self._events.put(("wake",))
        for thread in self._threads:
            thread.join(timeout=5)
        if self.connected.is_set():
            info = self.client.publish(
                self.config.status_topic,
                json.dumps({"agent": self.config.agent_id, "online": False}),
                qos=1,
                retain=True,
            )
            info.wait_for_publish(timeout=5)
        self.client.disconnect()
        self.client.loop_stop()
        self.spool.close()
        self.cache.close()
