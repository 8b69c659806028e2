import json
import logging
import os
import threading

from odoo import fields, models

from ..components import mqtt_client
from ..exceptions import MfgTransientError

_logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT = 10.0  # seconds to wait for the broker's PUBACK
CONNECT_TIMEOUT = 5.0

_clients = {}
_clients_lock = threading.Lock()


class _Publisher:
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

    def publish(self, topic, payload, properties):
        if not self.connected.wait(CONNECT_TIMEOUT):
            raise MfgTransientError(
                f"MQTT broker {self.settings['host']}:{self.settings['port']} is not reachable"
                + (f" ({self.error})" if self.error else "")
            )
        info = self.client.publish(topic, payload, qos=mqtt_client.QOS, properties=properties)
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


def _publisher(settings, client_id):
    key = (client_id, json.dumps(settings, sort_keys=True, default=str))
    with _clients_lock:
        pub = _clients.get(key)
        if pub is None:
            for other_key in [k for k in _clients if k[0] == client_id]:
                _clients.pop(other_key).close()  # settings changed
            pub = _clients[key] = _Publisher(settings, client_id)
        return pub


class MfgTransportMqtt(models.AbstractModel):
    """MQTT publish, QoS 1: a message is done only once the broker acknowledged it (PUBACK).

    Topic: the flow's endpoint, or <prefix>/<plant>/<system>/odoo/<contract>. MQTT v5 user
    properties carry message_id (the receiver's idempotency key) and exchange_type.
    A broker that is down or does not answer in time is a transient error: the message is
    retried with the exchange type's backoff, then dead.
    """

    _name = "mfg.transport.mqtt"
    _inherit = "mfg.transport"
    _description = "Integration Transport: MQTT publish"

    def _mfg_send(self, message):
        backend = message.backend_id.sudo()
        settings = backend._mfg_mqtt_settings()
        flow = backend._mfg_flow(message.exchange_type_id)
        contract = message.exchange_type_id.contract
        topic = (flow.endpoint if flow and flow.endpoint else "") or mqtt_client.outbound_topic(
            settings, contract
        )
        ext_id = f"{backend.code}-{message.id}"
        props = mqtt_client.publish_properties(settings, ext_id, message.correlation_id, contract)
        client_id = f"{backend._mfg_mqtt_client_id('pub')}-{os.getpid()}"
        _publisher(settings, client_id).publish(topic, (message.payload or "").encode("utf-8"), props)
        return f"published on {topic} (QoS 1, acknowledged {fields.Datetime.now()})"


class MfgBackendFlow(models.Model):
    _inherit = "mfg.backend.flow"

    transport = fields.Selection(selection_add=[("mqtt", "MQTT publish")], ondelete={"mqtt": "set default"})
