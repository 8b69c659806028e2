from odoo import fields, models

from odoo.addons.mfg_integration_base.lib.dates import format_rfc3339
from odoo.addons.mfg_integration_base.models.mfg_backend import SYSTEM_KINDS

EVENT_KINDS = [
    ("message_out", "Message out"),
    ("message_in", "Message in"),
    ("manual", "Manual action"),
    ("consumption", "Consumption"),
    ("production", "Production"),
    ("transfer", "Stock move"),
    ("delivery", "Delivery"),
    ("inspection_request", "Inspection request"),
    ("inspection", "Inspection"),
    ("nonconformance", "Nonconformance"),
    ("hold", "Hold"),
    ("release", "Release"),
]
SYSTEMS = [("odoo", "Odoo"), *SYSTEM_KINDS]


class MfgTraceEvent(models.TransientModel):
    """One line of a lot's digital thread: something that happened to the lot or to an order
    around it, with when, which system, who, and the record it comes from."""

    _name = "mfg.trace.event"
    _description = "Traceability event"
    _order = "trace_id, sequence"

    trace_id = fields.Many2one("mfg.trace", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(help="Position in the thread: time order.")
    event_at = fields.Datetime(
        string="When",
        help="When it happened: the time the system states (inspection evaluated, hold decided), else the "
        "time Odoo recorded it (message received or queued, stock moved, action taken).",
    )
    kind = fields.Selection(EVENT_KINDS, required=True)
    system = fields.Selection(SYSTEMS, required=True, default="odoo", help="The system the event comes from.")
    backend_id = fields.Many2one("mfg.backend")
    lot_id = fields.Many2one("stock.lot", string="Lot/Serial")
    summary = fields.Char(required=True)
    detail = fields.Text(help="Raw payload of a message, body of an action, notes.")
    state = fields.Char(help="State of the message or record now.")
    actor = fields.Char(string="Who", help="The user, or the system and the person it names.")
    res_model = fields.Char(string="Model")
    res_id = fields.Many2oneReference(string="Record id", model_field="res_model")

    def action_open(self):
        """The record this line comes from."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
            "target": "current",
        }

    def _mfg_as_dict(self):
        """The line as it goes into an evidence pack."""
        self.ensure_one()
        return {
            "sequence": self.sequence,
            "event_at": format_rfc3339(self.event_at),
            "kind": self.kind,
            "system": self.system,
            "backend": self.backend_id.code or None,
            "lot": self.lot_id.name or None,
            "summary": self.summary,
            "detail": self.detail or None,
            "state": self.state or None,
            "actor": self.actor or None,
            "record": f"{self.res_model},{self.res_id}" if self.res_model else None,
        }
