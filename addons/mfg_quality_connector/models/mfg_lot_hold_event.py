from odoo import fields, models

HOLD_ACTIONS = [
    ("hold", "Held"),
    ("release", "Released"),
    ("unchanged", "No change"),
    ("ignored", "Ignored (out of order)"),
]


class MfgLotHoldEvent(models.Model):
    """One line of a lot's hold history: every hold and release request, applied or not."""

    _name = "mfg.lot.hold.event"
    _description = "Lot Hold History"
    _order = "id desc"

    lot_id = fields.Many2one("stock.lot", required=True, ondelete="cascade", index=True)
    product_id = fields.Many2one(related="lot_id.product_id", store=True)
    company_id = fields.Many2one("res.company", index=True)
    action = fields.Selection(HOLD_ACTIONS, required=True)
    requested_state = fields.Selection(
        [("held", "Held"), ("released", "Released")], string="Requested", required=True
    )
    event_at = fields.Datetime(
        string="Event time", required=True, help="When the sender says the hold or release happened."
    )
    reason = fields.Text()
    message_id = fields.Many2one("mfg.message", ondelete="set null", index="btree_not_null")
    user_id = fields.Many2one("res.users", string="By user", default=lambda self: self.env.user)
    requested_by = fields.Char(help="Who asked for it in the quality system, when it says so.")
    nonconformance_id = fields.Many2one("mfg.nonconformance", ondelete="set null")
    inspection_id = fields.Many2one("mfg.quality.inspection", ondelete="set null")
    request_id = fields.Many2one("mfg.inspection.request", string="Inspection request", ondelete="set null")
    quarantine_picking_ids = fields.Many2many(
        "stock.picking", string="Quarantine transfers", help="Transfers that moved the lot to quarantine."
    )
    note = fields.Char()
