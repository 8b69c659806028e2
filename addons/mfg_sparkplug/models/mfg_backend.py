"""The Sparkplug side of a backend: group, primary host id, flush interval; its edge nodes and
devices (mfg_sparkplug_node.py) and its metric map (mfg_sparkplug_rule.py)."""

import re

from odoo import api, fields, models
from odoo.exceptions import ValidationError

# MQTT topic levels: no wildcard, no separator, not empty (Sparkplug B 3.0, topic namespace).
SPARKPLUG_ID = re.compile(r"^[^/+#]+$")


class MfgBackend(models.Model):
    _inherit = "mfg.backend"

    sparkplug_enabled = fields.Boolean(
        string="Sparkplug B",
        tracking=True,
        help="The backend's MQTT listener is the primary host application of a Sparkplug B group.",
    )
    sparkplug_group = fields.Char(string="Sparkplug group id", tracking=True)
    sparkplug_host_id = fields.Char(
        string="Primary host id",
        tracking=True,
        help="Host application id of the STATE topic spBv1.0/STATE/<host id>. Default: odoo-<backend code>.",
    )
    sparkplug_flush_seconds = fields.Integer(
        string="Flush interval (s)",
        default=60,
        tracking=True,
        help="Counters are summed per metric over this interval into one fact; node states are "
        "written at once. A flush also happens after 500 messages.",
    )
    sparkplug_listener = fields.Char(
        string="Primary host listener",
        tracking=True,
        help="Name of the listener (odoo mfg_mqtt --listener-name) that is the primary host. Set it when "
        "several listeners serve this backend: one host must see an edge node's messages in order. "
        "Empty: every listener of the backend (run one).",
    )
    sparkplug_node_ids = fields.One2many("mfg.sparkplug.node", "backend_id", string="Edge nodes and devices")
    sparkplug_rule_ids = fields.One2many("mfg.sparkplug.rule", "backend_id", string="Metric map")
    sparkplug_topic = fields.Char(compute="_compute_sparkplug_topic", string="Sparkplug topics")

    @api.depends("sparkplug_group", "sparkplug_host_id", "code")
    def _compute_sparkplug_topic(self):
        for rec in self:
            rec.sparkplug_topic = (
                f"spBv1.0/{rec.sparkplug_group}/# · spBv1.0/STATE/{rec._mfg_sparkplug_host_id()}"
                if rec.sparkplug_group
                else False
            )

    @api.constrains("sparkplug_enabled", "sparkplug_group", "sparkplug_host_id", "sparkplug_flush_seconds")
    def _check_sparkplug(self):
        for rec in self.filtered("sparkplug_enabled"):
            for label, value in (
                (self.env._("Sparkplug group id"), rec.sparkplug_group),
                (self.env._("Primary host id"), rec._mfg_sparkplug_host_id()),
            ):
                if not value or not SPARKPLUG_ID.match(value):
                    raise ValidationError(
                        self.env._(
                            "%(field)s %(value)r of backend %(backend)s must be set and hold no '/', '+' or '#'.",
                            field=label,
                            value=value or "",
                            backend=rec.code,
                        )
                    )
            if rec.sparkplug_flush_seconds < 1:
                raise ValidationError(
                    self.env._(
                        "Flush interval %(value)s of backend %(backend)s must be at least 1 second.",
                        value=rec.sparkplug_flush_seconds,
                        backend=rec.code,
                    )
                )

    def _mfg_sparkplug_host_id(self):
        self.ensure_one()
        return self.sparkplug_host_id or f"odoo-{self.code}"

    def _mfg_mqtt_settings(self):
        """The MQTT settings, with the Sparkplug claim when enabled: the listener subscribes the
        group's topics, sets the STATE will and hands the messages to sparkplug_claim.py."""
        settings = super()._mfg_mqtt_settings()
        rec = self.sudo()
        if rec.sparkplug_enabled and rec.sparkplug_group:
            claims = dict(settings.get("claims") or {})
            claims["sparkplug"] = (
                rec.sparkplug_group,
                rec._mfg_sparkplug_host_id(),
                rec.sparkplug_flush_seconds or 60,
                rec.sparkplug_listener or "",
            )
            settings["claims"] = claims
        return settings

    def _mfg_mqtt_acl_odoo_topics(self):
        """The central broker's ACL: Odoo's identity reads and writes the group (births, data,
        rebirth commands) and its STATE topic (birth, will), the filters of the claim."""
        topics = super()._mfg_mqtt_acl_odoo_topics()
        rec = self.sudo()
        if rec.sparkplug_enabled and rec.sparkplug_group:
            topics += [f"spBv1.0/{rec.sparkplug_group}/#", f"spBv1.0/STATE/{rec._mfg_sparkplug_host_id()}"]
        return topics

    def action_mfg_sparkplug_nodes(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("mfg_sparkplug.action_mfg_sparkplug_node")
        action["domain"] = [("backend_id", "=", self.id)]
        action["context"] = {"default_backend_id": self.id}
        return action
