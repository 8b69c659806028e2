"""mfg.sparkplug.node: an edge node or a device of a backend's Sparkplug group, as the primary host
sees it (online state, birth, seq, bdSeq, rebirths, counts). Written by the listener's claim
(transport/sparkplug_claim.py) at each flush, with SQL increments for the counters."""

import json
import os

from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.mfg_integration_base.exceptions import MfgTransientError
from odoo.addons.mfg_integration_base.transports.mqtt.publisher import publisher

from ..lib import codec

COUNTERS = ("rebirths_requested", "metrics_counted", "metrics_applied", "malformed_count", "messages_count")


class MfgSparkplugNode(models.Model):
    _name = "mfg.sparkplug.node"
    _description = "Sparkplug edge node or device"
    _order = "backend_id, edge_node, device, id"
    _rec_name = "display_label"

    backend_id = fields.Many2one("mfg.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    group = fields.Char(string="Group id", required=True)
    edge_node = fields.Char(required=True, index=True)
    device = fields.Char(help="Empty for the edge node itself.")
    kind = fields.Selection(
        [("node", "Edge node"), ("device", "Device")], compute="_compute_kind", store=True
    )
    display_label = fields.Char(compute="_compute_display_label", string="Name")
    online = fields.Boolean(readonly=True)
    last_birth_at = fields.Datetime(string="Last birth", readonly=True)
    last_death_at = fields.Datetime(string="Last death", readonly=True)
    last_message_at = fields.Datetime(string="Last message", readonly=True)
    last_seq = fields.Integer(string="Last seq", readonly=True)
    bd_seq = fields.Integer(string="bdSeq", readonly=True)
    rebirths_requested = fields.Integer(readonly=True)
    metrics_counted = fields.Integer(
        string="Metric updates without a rule", readonly=True, help="Counted, not stored as messages."
    )
    metrics_applied = fields.Integer(string="Metric updates with a rule", readonly=True)
    malformed_count = fields.Integer(string="Malformed payloads", readonly=True)
    messages_count = fields.Integer(string="Messages", readonly=True)
    last_issue = fields.Char(readonly=True, help="Why the last ignored message was ignored.")
    birth_metrics = fields.Text(readonly=True, help="Metrics of the last birth: name, alias, datatype.")
    rule_state = fields.Text(readonly=True, help="Last counter values and machine states (JSON).")

    _sql_constraints = [
        (
            "node_device_unique",
            "unique(backend_id, edge_node, device)",
            "An edge node / device is listed once per backend.",
        ),
    ]

    @api.depends("device")
    def _compute_kind(self):
        for rec in self:
            rec.kind = "device" if rec.device else "node"

    @api.depends("edge_node", "device")
    def _compute_display_label(self):
        for rec in self:
            rec.display_label = f"{rec.edge_node}/{rec.device}" if rec.device else rec.edge_node

    # ------------------------------------------------------------------ written by the listener
    @api.model
    def _mfg_sparkplug_record(self, backend, group, edge_node, device):
        """The record of a node / device (created when first seen). ``device`` '' for the node."""
        device = device or False
        rec = self.search(
            [("backend_id", "=", backend.id), ("edge_node", "=", edge_node), ("device", "=", device)], limit=1
        )
        if not rec:
            rec = self.create(
                {"backend_id": backend.id, "group": group, "edge_node": edge_node, "device": device}
            )
        return rec

    def _mfg_sparkplug_update(self, values, increments):
        """Write ``values`` and add ``increments`` (counters) with one UPDATE: the Rebirth button
        of a user and the listener add to the same counters."""
        self.ensure_one()
        sets, params = [], []
        for name, value in values.items():
            sets.append(f'"{name}" = %s')
            params.append(json.dumps(value) if name == "rule_state" else value)
        for name, value in increments.items():
            if name not in COUNTERS:
                raise ValueError(name)
            sets.append(f'"{name}" = coalesce("{name}", 0) + %s')
            params.append(value)
        if not sets:
            return
        self.env.cr.execute(
            f"UPDATE mfg_sparkplug_node SET {', '.join(sets)}, write_date = now() AT TIME ZONE 'UTC' "
            "WHERE id = %s",
            (*params, self.id),
        )
        self.invalidate_recordset()

    def _mfg_sparkplug_rule_state(self):
        try:
            return json.loads(self.rule_state or "{}")
        except ValueError:
            return {}

    # ------------------------------------------------------------------ actions
    def action_rebirth(self):
        """Publish ``NCMD Node Control/Rebirth`` to the edge node (QoS 1, waits for the broker)."""
        for rec in self:
            backend = rec.backend_id.sudo()
            settings = backend._mfg_mqtt_settings()
            topic = f"{codec.NAMESPACE}/{rec.group}/NCMD/{rec.edge_node}"
            client_id = f"{backend._mfg_mqtt_client_id('pub')}-{os.getpid()}"
            try:
                publisher(settings, client_id).publish(
                    topic, codec.rebirth_command().SerializeToString(), None
                )
            except MfgTransientError as exc:
                raise UserError(
                    self.env._(
                        "Rebirth request to %(node)s not sent: %(error)s", node=rec.edge_node, error=exc
                    )
                ) from exc
            node = (
                rec
                if rec.kind == "node"
                else rec._mfg_sparkplug_record(backend, rec.group, rec.edge_node, False)
            )
            node._mfg_sparkplug_update({}, {"rebirths_requested": 1})
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._(
                    "Rebirth requested from %(nodes)s.", nodes=", ".join(self.mapped("edge_node"))
                ),
            },
        }
