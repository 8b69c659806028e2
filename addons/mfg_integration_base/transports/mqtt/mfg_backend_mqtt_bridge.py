"""The plant side of a backend's MQTT: its plant broker's bridge to the central broker.

The text is written by bridge.py (no ORM); this file holds the per-backend inputs (where the plant
reaches the central broker, the outage to survive, the certificate folder on the plant host) and
``_mfg_mqtt_bridge_config`` (integration managers only), used by the wizard of the backend form
and by ``odoo mfg_mqtt_bridge``.
"""

import base64

from odoo import fields, models
from odoo.exceptions import AccessError, UserError

from . import bridge as mqtt_bridge

MANAGER_GROUP = "mfg_integration_base.group_mfg_manager"


# One file per side of a backend, like mfg_backend_mqtt.py and mfg_backend_mqtt_tls.py.
class MfgBackend(models.Model):
    _inherit = "mfg.backend"  # pylint: disable=consider-merging-classes-inherited

    mqtt_bridge_address = fields.Char(
        string="Central broker address (from the plant)",
        tracking=True,
        help="host:port of the central broker's TLS listener as the plant broker reaches it over the WAN "
        "(e.g. mqtt.example.com:8883). Odoo's own connection (Broker host) may differ.",
    )
    mqtt_bridge_protocol = fields.Selection(
        [("mqttv311", "MQTT 3.1.1 (keeps the session)"), ("mqttv50", "MQTT 5")],
        string="Bridge protocol",
        default="mqttv311",
        required=True,
        tracking=True,
        help="MQTT 3.1.1: the central broker keeps the bridge's session (and the releases queued for the "
        "plant) during a cut. Mosquitto's MQTT 5 bridge sends no session expiry, so its session ends "
        "at each cut.",
    )
    mqtt_bridge_outage_hours = fields.Float(
        string="Outage to survive (hours)",
        default=8.0,
        tracking=True,
        help="How long the WAN link may be down without the plant broker dropping messages.",
    )
    mqtt_bridge_rate = fields.Float(
        string="Expected messages per second",
        default=10.0,
        tracking=True,
        help="What the plant systems of this backend publish, on average; sizes the plant broker's queue.",
    )
    mqtt_bridge_message_bytes = fields.Integer(
        string="Average message size (bytes)", default=1024, tracking=True
    )
    mqtt_bridge_keepalive = fields.Integer(
        string="Bridge keepalive (s)",
        default=30,
        tracking=True,
        help="A cut is noticed after about 1.5 times this.",
    )
    mqtt_bridge_restart_cap = fields.Integer(
        string="Longest reconnection wait (s)",
        default=60,
        tracking=True,
        help="After a cut the bridge tries again after 5 s, then waits longer (with jitter) up to this.",
    )
    mqtt_bridge_cert_dir = fields.Char(
        string="Certificate folder (plant host)",
        default="/etc/mosquitto/certs",
        tracking=True,
        help="Folder on the plant host with ca.crt (the central broker's CA), <backend code>.crt and "
        "<backend code>.key (this plant's client certificate and key).",
    )

    def _mfg_mqtt_bridge_inputs(self):
        self.ensure_one()
        topic_settings = self._mfg_mqtt_topic_settings()
        return {
            "code": self.code,
            "address": self.mqtt_bridge_address,
            "topic_prefix": topic_settings["topic_prefix"],
            "plant": topic_settings["plant"],
            "system": topic_settings["system"],
            "protocol": self.mqtt_bridge_protocol,
            "keepalive": self.mqtt_bridge_keepalive,
            "client_id": f"plant-{self.code}",
            "restart_cap": self.mqtt_bridge_restart_cap,
            "cert_dir": self.mqtt_bridge_cert_dir,
            "outage_hours": self.mqtt_bridge_outage_hours,
            "rate": self.mqtt_bridge_rate,
            "message_bytes": self.mqtt_bridge_message_bytes,
        }

    def _mfg_mqtt_bridge_config(self, persistence_location=None, listener=None):
        """The plant broker's mosquitto.conf bridging these backends (one plant) to the central
        broker. Integration managers only; UserError naming the field and value otherwise."""
        if not self.env.su and not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(
                self.env._("Only integration managers can generate a plant bridge configuration.")
            )
        if not self:
            raise UserError(self.env._("Select at least one backend to bridge."))
        plants = set(self.mapped(lambda b: b.plant_code or b.code))
        if len(plants) > 1:
            raise UserError(
                self.env._(
                    "Backends %(codes)s are of several plants (%(plants)s): generate one configuration per plant.",
                    codes=", ".join(self.mapped("code")),
                    plants=", ".join(sorted(plants)),
                )
            )
        plant = {
            "persistence_location": persistence_location or "/var/lib/mosquitto/",
            "listener": listener or "127.0.0.1:1883",
            "autosave_interval": 10,
            "generated": f"Generated by Odoo for backend(s) {', '.join(self.mapped('code'))}",
        }
        try:
            return mqtt_bridge.bridge_config(plant, [b._mfg_mqtt_bridge_inputs() for b in self])
        except ValueError as exc:
            raise UserError(str(exc)) from None

    def _mfg_mqtt_central_acl(self):
        """The central broker's acl_file for these backends' plant bridges (any number of plants):
        each plant certificate confined to its backend's topics, Odoo's broker users to all.
        Integration managers only; UserError naming the field and value otherwise."""
        if not self.env.su and not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(self.env._("Only integration managers can generate the central broker's ACL."))
        if not self:
            raise UserError(self.env._("Select at least one backend for the central broker's ACL."))
        backends = self.sudo()
        try:
            return mqtt_bridge.central_acl(
                [b._mfg_mqtt_bridge_inputs() for b in backends],
                odoo_users=backends.mapped("mqtt_username"),
                generated=f"Generated by Odoo for backend(s) {', '.join(backends.mapped('code'))}",
            )
        except ValueError as exc:
            raise UserError(str(exc)) from None

    def _mfg_mqtt_bridge_attachment(self, text):
        """The configuration kept as an attachment of the (first) backend."""
        self.ensure_one()
        name = f"mosquitto-bridge-{self.code}.conf"
        Attachment = self.env["ir.attachment"].sudo()
        vals = {"datas": base64.b64encode(text.encode()), "mimetype": "text/plain"}
        attachment = Attachment.search(
            [("res_model", "=", self._name), ("res_id", "=", self.id), ("name", "=", name)], limit=1
        )
        if attachment:
            attachment.write(vals)
        else:
            attachment = Attachment.create({"name": name, "res_model": self._name, "res_id": self.id, **vals})
        return attachment

    def action_mqtt_bridge_config(self):
        """Button of the MQTT tab: generate the plant broker's bridge configuration and show it."""
        text = self._mfg_mqtt_bridge_config()
        attachment = self[:1]._mfg_mqtt_bridge_attachment(text)
        wizard = self.env["mfg.mqtt.bridge.wizard"].create(
            {"backend_ids": [(6, 0, self.ids)], "config_text": text, "attachment_id": attachment.id}
        )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Plant bridge configuration"),
            "res_model": wizard._name,
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
        }
