import json
import os
import uuid

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ...exceptions import MfgPermanentError
from ...pipeline.states import PENDING_STATES
from . import client as mqtt_client
from . import routing
from .publisher import publisher

PROBE_TIMEOUT = 5.0  # seconds the connection test waits for the broker's CONNACK


class MfgTransportMqtt(models.AbstractModel):
    """MQTT publish, QoS 1: a message is done only once the broker acknowledged it (PUBACK).

    Topic: the flow's endpoint, or <prefix>/<plant>/<system>/odoo/<contract>. MQTT v5 user
    properties carry message_id (the receiver's idempotency key) and exchange_type.
    A broker that is down or does not answer in time is a transient error: the message is
    retried with the exchange type's backoff, then dead.

    Inbound: the listener (``odoo mfg_mqtt``, runner.py) hands its batches to
    ``_mfg_receive_batch``.
    """

    _name = "mfg.transport.mqtt"
    _inherit = "mfg.transport"
    _description = "Integration Transport: MQTT publish"

    _mfg_error_field = "mqtt_last_error"

    # ------------------------------------------------------------------ inbound
    @api.model
    def _mfg_receive_batch(self, batch):
        """Store a batch of the listener (listener.InboundMessage), routed by topic; the caller
        commits, then acknowledges. Returns how many messages were stored.

        The routing (topic → exchange type, unroutable, bare fallbacks) is ``routing.py``; it
        ends in ``mfg.message._mfg_receive(transport="mqtt")``."""
        return routing.receive_batch(self.env, batch)

    # ------------------------------------------------------------------ outbound
    @api.model
    def _mfg_default_endpoint(self, backend, exchange_type):
        return mqtt_client.outbound_topic(backend._mfg_mqtt_topic_settings(), exchange_type.contract)

    def _mfg_send(self, message):
        backend = message.backend_id.sudo()
        settings = backend._mfg_mqtt_settings()
        contract = message.exchange_type_id.contract
        topic = self._mfg_endpoint(backend, message.exchange_type_id)
        flow = backend._mfg_flow(message.exchange_type_id)
        retain = bool(flow.mqtt_retained)
        if retain:
            topic = self._mfg_retained_topic(message, flow, topic)
        ext_id = f"{backend.code}-{message.id}"
        body, content_type = message._mfg_wire_body()
        props = mqtt_client.publish_properties(
            settings, ext_id, message.correlation_id, contract, content_type=content_type
        )
        client_id = f"{backend._mfg_mqtt_client_id('pub')}-{os.getpid()}"
        publisher(settings, client_id).publish(topic, body, props, retain=retain)
        kept = ", retained" if retain else ""
        return f"published on {topic} (QoS 1{kept}, acknowledged {fields.Datetime.now()})"

    def _mfg_retained_topic(self, message, flow, topic):
        """Reference data: ``<flow topic>/<percent-encoded ordering key>``, one retained message
        per record. A message without an ordering key has no record to be kept under: it fails
        (permanent, the flow named) rather than overwrite another record's state."""
        if not message.ordering_key:
            raise MfgPermanentError(
                self.env._(
                    "Flow %(flow)s of backend %(backend)s publishes reference data (retained): "
                    "message %(message)s has no ordering key to name its topic. Give the exchange "
                    "type an ordering key, or turn off Reference data (retained) on the flow.",
                    flow=flow.display_name,
                    backend=flow.backend_id.code,
                    message=message.id,
                )
            )
        return mqtt_client.retained_topic(topic, message.ordering_key)

    # ------------------------------------------------------------------ connection test
    @api.model
    def _mfg_is_configured(self, backend):
        return backend.mqtt_enabled

    @api.model
    def _mfg_setup_hint(self):
        return self.env._("MQTT enabled, with its broker host and port (MQTT tab)")

    @api.model
    def _mfg_test_connection(self, backend):
        """A throwaway client must get a CONNACK from the broker (clean session, nothing
        subscribed or published). TLS files outside file_roots are refused, not probed."""
        _ = self.env._
        broker = f"{backend.mqtt_host or '127.0.0.1'}:{backend.mqtt_port or 1883}"
        try:
            settings = backend._mfg_mqtt_settings()
        except MfgPermanentError as exc:
            ok, detail = False, exc.message
        else:
            client_id = f"odoo-test-{backend.code}-{uuid.uuid4().hex[:12]}"
            ok, detail = mqtt_client.probe(settings, client_id, timeout=PROBE_TIMEOUT)
        if ok:
            return True, _("MQTT broker %(broker)s accepted the connection.", broker=broker)
        return False, _("MQTT broker %(broker)s: %(error)s", broker=broker, error=detail)


class MfgBackendFlow(models.Model):
    _inherit = "mfg.backend.flow"

    transport = fields.Selection(selection_add=[("mqtt", "MQTT publish")], ondelete={"mqtt": "set default"})
    mqtt_retained = fields.Boolean(
        string="Reference data (retained)",
        help="Outbound MQTT: publish each message retained on <topic>/<ordering key, "
        "percent-encoded>, so the broker keeps the latest state of each record (a lot's status, "
        "a released work order) for plant systems and edge agents that connect later.",
    )

    @api.constrains("mqtt_retained", "transport", "exchange_type_id")
    def _check_mqtt_retained(self):
        for flow in self.filtered("mqtt_retained"):
            if flow.direction != "outbound" or flow.transport != "mqtt":
                raise ValidationError(
                    self.env._(
                        "Flow %(flow)s: Reference data (retained) applies to outbound flows sent "
                        "by MQTT publish (transport: %(transport)s).",
                        flow=flow.display_name,
                        transport=flow.transport or "-",
                    )
                )

    def action_mfg_publish_reference_data(self):
        """Publish the current reference data of this flow again (managers): for each ordering key,
        the last message sent (done) is queued once more, same payload and message id, unless a
        newer one is still on its way. For a broker that lost its retained messages, or a flow
        that just got *Reference data (retained)*."""
        self.ensure_one()
        if not self.env.su and not self.env.user.has_group("mfg_integration_base.group_mfg_manager"):
            raise AccessError(self.env._("Only integration managers can publish reference data again."))
        if not self.mqtt_retained or not self.active:
            raise UserError(
                self.env._(
                    "Flow %(flow)s: turn on Reference data (retained) (and keep the flow active) first.",
                    flow=self.display_name,
                )
            )
        self.env.cr.execute(
            """SELECT DISTINCT ON (m.ordering_key) m.id
                 FROM mfg_message m
                WHERE m.backend_id = %(b)s AND m.exchange_type_id = %(t)s AND m.direction = 'outbound'
                  AND m.state = 'done' AND m.ordering_key IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM mfg_message n
                                   WHERE n.backend_id = m.backend_id AND n.exchange_type_id = m.exchange_type_id
                                     AND n.direction = 'outbound' AND n.ordering_key = m.ordering_key
                                     AND n.id > m.id AND n.state IN %(pending)s)
                ORDER BY m.ordering_key, m.id DESC""",
            {"b": self.backend_id.id, "t": self.exchange_type_id.id, "pending": PENDING_STATES},
        )
        last = self.env["mfg.message"].sudo().browse([row[0] for row in self.env.cr.fetchall()])
        Outbox = self.env["mfg.outbox"].sudo()
        for msg in last:
            Outbox._mfg_write(
                self.backend_id.sudo(),
                self.exchange_type_id.contract,
                msg.payload,
                msg.ordering_key,
                msg.correlation_id,
                json.loads(msg.headers) if msg.headers else None,
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "info",
                "message": self.env._(
                    "%(n)s record(s) of %(flow)s queued to be published again (retained).",
                    n=len(last),
                    flow=self.display_name,
                ),
            },
        }
