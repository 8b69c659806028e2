"""The edge agents of a backend: the ``edge_status`` topic claim on every MQTT backend (the
listener reads the agents' statuses, edge_status.py), the alert thresholds and the screens'
button. The agents themselves: models/mfg_edge_agent.py."""

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from . import client as mqtt_client
from . import edge_status


class MfgBackend(models.Model):
    _inherit = "mfg.backend"  # pylint: disable=consider-merging-classes-inherited

    edge_agent_ids = fields.One2many("mfg.edge.agent", "backend_id", string="Edge agents")
    edge_agent_count = fields.Integer(compute="_compute_edge_agent_count", string="Edge agents (count)")
    edge_silent_seconds = fields.Integer(
        string="Edge agent silent after (s)",
        default=120,
        tracking=True,
        help="Alert when an edge agent of this backend sent no status for this long (about 3 of its "
        "heartbeats; 0: no alert).",
    )
    edge_spool_depth_max = fields.Integer(
        string="Edge spool alert above (messages)",
        default=10000,
        tracking=True,
        help="Alert when an online edge agent holds more messages than this in its spool (0: no alert).",
    )
    edge_spool_age_seconds = fields.Integer(
        string="Edge spool alert after (s)",
        default=900,
        tracking=True,
        help="Alert when the oldest message an online edge agent still spools is older than this "
        "(0: no alert).",
    )
    mqtt_edge_status_topic = fields.Char(
        compute="_compute_mqtt_edge_status_topic", string="Edge agent status topic"
    )

    @api.depends("edge_agent_ids")
    def _compute_edge_agent_count(self):
        counts = dict(
            self.env["mfg.edge.agent"]._read_group(
                [("backend_id", "in", self.ids)], ["backend_id"], ["__count"]
            )
        )
        for backend in self:
            backend.edge_agent_count = counts.get(backend, 0)

    @api.depends("mqtt_topic_prefix", "plant_code", "code", "system_kind")
    def _compute_mqtt_edge_status_topic(self):
        for rec in self:
            rec.mqtt_edge_status_topic = edge_status.status_filter(
                mqtt_client.topic_root(rec._mfg_mqtt_topic_settings())
            )

    @api.constrains("edge_silent_seconds", "edge_spool_depth_max", "edge_spool_age_seconds")
    def _check_edge_thresholds(self):
        for rec in self:
            for fname in ("edge_silent_seconds", "edge_spool_depth_max", "edge_spool_age_seconds"):
                if rec[fname] < 0:
                    raise ValidationError(
                        self.env._(
                            "%(field)s of backend %(backend)s is %(value)s: give 0 (no alert) or more.",
                            field=rec._fields[fname].string,
                            backend=rec.code,
                            value=rec[fname],
                        )
                    )

    def _mfg_mqtt_settings(self):
        """The MQTT settings, with the edge agents' status claim (every MQTT backend)."""
        settings = super()._mfg_mqtt_settings()
        claims = dict(settings.get("claims") or {})
        claims[edge_status.CLAIM] = mqtt_client.topic_root(settings)
        settings["claims"] = claims
        return settings

    def action_view_edge_agents(self):
        action = self.env["ir.actions.act_window"]._for_xml_id("mfg_integration_base.action_mfg_edge_agent")
        action["domain"] = [("backend_id", "in", self.ids)]
        action["context"] = {"default_backend_id": self[:1].id, "active_test": False}
        return action
