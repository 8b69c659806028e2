"""Connected paho clients that publish outbound messages, one per backend settings and process,
shared by the drain jobs of the process. Pure Python, no ORM."""

import json
import threading

from ...exceptions import MfgTransientError
from . import client as mqtt_client

PUBLISH_TIMEOUT = 10.0  # seconds to wait for the broker's PUBACK
CONNECT_TIMEOUT = 5.0

_clients = {}
_clients_lock = threading.Lock()


class Publisher:
    """One connected paho client per backend settings, shared by the drain jobs of a process."""

    def __init__(self, settings, client_id):
        self.settings = settings
        self.connected = threading.Event()
        self.error = None
        self.client = mqtt_client.make_client(settings, client_id)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        # A publisher needs no session: what is not PUBACKed is retried by the pipeline.
        self.client.connect_async(**mqtt_client.connect_kwargs(settings, persistent=False))
        self.client.loop_start()

    def _on_connect(self, _client, _userdata, _flags, reason_code, _properties):
        if reason_code.is_failure:
            self.error = str(reason_code)
            self.connected.clear()
        else:
            self.error = None
            self.connected.set()

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties):
        self.connected.clear()
        if reason_code.is_failure:
            self.error = str(reason_code)

    def publish(self, topic, payload, properties, retain=False):
        """Publish QoS 1 (retained when ``retain``) and wait for the PUBACK; MfgTransientError
        when the broker cannot be reached or does not acknowledge in time."""
        if not self.connected.wait(CONNECT_TIMEOUT):
            raise MfgTransientError(
                f"MQTT broker {self.settings['host']}:{self.settings['port']} is not reachable"
                + (f" ({self.error})" if self.error else "")
            )
        info = self.client.publish(topic, payload, qos=mqtt_client.QOS, retain=retain, properties=properties)
        try:
            info.wait_for_publish(PUBLISH_TIMEOUT)
        except (RuntimeError, ValueError) as exc:
            raise MfgTransientError(f"MQTT publish to {topic} failed: {exc}") from exc
        if not info.is_published():
            raise MfgTransientError(f"MQTT broker did not acknowledge the message on {topic} in time")

    def close(self):
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()


def publisher(settings, client_id):
    """The process's Publisher of ``client_id`` for these settings (replaced when they change)."""
    key = (client_id, json.dumps(settings, sort_keys=True, default=str))
    with _clients_lock:
        pub = _clients.get(key)
        if pub is None:
            for other_key in [k for k in _clients if k[0] == client_id]:
                _clients.pop(other_key).close()  # settings changed
            pub = _clients[key] = Publisher(settings, client_id)
        return pub
