"""The MQTT side of a backend: broker, session, topics and the listener's status. Topic scheme:
client.py; TLS material: mfg_backend_mqtt_tls.py; publishing: mfg_transport_mqtt.py."""

from odoo import api, fields, models

from . import client as mqtt_client


# One file per side of a backend, like mfg_backend_http.py and mfg_backend_api.py.
class MfgBackend(models.Model):
    _inherit = "mfg.backend"  # pylint: disable=consider-merging-classes-inherited

    mqtt_enabled = fields.Boolean(
        string="MQTT", tracking=True, help="Serve this backend with the MQTT listener."
    )
    mqtt_host = fields.Char(string="Broker host", default="127.0.0.1", tracking=True)
    mqtt_port = fields.Integer(string="Broker port", default=1883, tracking=True)
    mqtt_protocol = fields.Selection(
        [("v5", "MQTT 5"), ("v311", "MQTT 3.1.1")],
        string="Protocol",
        default="v5",
        required=True,
        tracking=True,
    )
    mqtt_username = fields.Char(string="Broker user", tracking=True)
    mqtt_password = fields.Char(
        string="Broker password", groups="mfg_integration_base.group_mfg_manager", copy=False
    )
    mqtt_tls = fields.Boolean(string="TLS", tracking=True)  # CA, certificate, key: mfg_backend_mqtt_tls.py
    mqtt_topic_prefix = fields.Char(string="Topic prefix", default="mfg", required=True, tracking=True)
    mqtt_client_id = fields.Char(
        string="Client id",
        tracking=True,
        help="Fixed client id of the persistent session (the listener appends its own name). "
        "Default: odoo-<backend code>.",
    )
    mqtt_shared_group = fields.Char(
        string="Shared subscription group",
        tracking=True,
        help="MQTT 5: listeners on several hosts join $share/<group>/... and split the messages.",
    )
    mqtt_session_expiry = fields.Integer(
        string="Session expiry (s)",
        default=7 * 24 * 3600,
        tracking=True,
        help="How long the broker keeps the session and its queued messages while no listener is connected.",
    )
    mqtt_state = fields.Selection(
        [("connected", "Connected"), ("disconnected", "Disconnected")], string="Listener", readonly=True
    )
    mqtt_connected_since = fields.Datetime(readonly=True)
    mqtt_last_error = fields.Char(readonly=True)
    mqtt_seen_at = fields.Datetime(string="Listener last seen", readonly=True)
    mqtt_inbound_topic = fields.Char(compute="_compute_mqtt_topics", string="Inbound topics")
    mqtt_outbound_topic = fields.Char(compute="_compute_mqtt_topics", string="Outbound topics")

    @api.depends(
        "mqtt_topic_prefix", "plant_code", "code", "system_kind", "mqtt_shared_group", "mqtt_protocol"
    )
    def _compute_mqtt_topics(self):
        for rec in self:
            settings = rec._mfg_mqtt_topic_settings()
            rec.mqtt_inbound_topic = mqtt_client.inbound_filter(settings)
            rec.mqtt_outbound_topic = mqtt_client.outbound_topic(settings, "<contract>")

    def _mfg_mqtt_topic_settings(self):
        self.ensure_one()
        return {
            "topic_prefix": self.mqtt_topic_prefix or "mfg",
            "plant": self.plant_code or self.code or "plant",
            "system": self.system_kind or "other",
            "shared_group": self.mqtt_shared_group,
            "protocol": self.mqtt_protocol,
        }

    def _mfg_mqtt_settings(self):
        """Plain dict of the MQTT connection of this backend (for the listener and publisher).
        MfgPermanentError when its TLS material cannot be used (mfg_backend_mqtt_tls.py)."""
        self.ensure_one()
        rec = self.sudo()
        settings = rec._mfg_mqtt_topic_settings()
        settings.update(
            {
                "host": rec.mqtt_host or "127.0.0.1",
                "port": rec.mqtt_port or 1883,
                "username": rec.mqtt_username or None,
                "password": rec.mqtt_password or None,
                "tls": rec.mqtt_tls,
                **rec._mfg_mqtt_tls_settings(),  # PEM contents (hashed), never paths
                "session_expiry": rec.mqtt_session_expiry or 0,
            }
        )
        return settings

    def _mfg_mqtt_client_id(self, listener_name):
        self.ensure_one()
        base = self.mqtt_client_id or f"odoo-{self.code}"
        return f"{base}-{listener_name}"[:128]
