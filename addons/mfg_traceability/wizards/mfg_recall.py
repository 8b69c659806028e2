from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.exceptions import UserError


class MfgRecall(models.TransientModel):
    """Recall simulation: from a suspect lot, every lot made from it (at any level), their stock
    on hand by location and what was shipped to which customer; one button holds them all
    through the quality hold (shipping and consumption blocked, quality systems told)."""

    _name = "mfg.recall"
    _description = "Recall simulation"

    lot_id = fields.Many2one("stock.lot", string="Suspect lot", required=True)
    product_id = fields.Many2one(related="lot_id.product_id")
    affected_lot_ids = fields.Many2many(
        "stock.lot",
        string="Affected lots",
        compute="_compute_recall",
        help="The suspect lot and every lot made from it.",
    )
    finished_lot_ids = fields.Many2many(
        "stock.lot",
        string="Finished lots",
        compute="_compute_recall",
        help="Affected lots not consumed into anything else.",
    )
    quant_ids = fields.Many2many("stock.quant", string="Open stock", compute="_compute_recall")
    shipped_line_ids = fields.Many2many("stock.move.line", string="Shipped", compute="_compute_recall")
    customer_summary = fields.Html(string="Shipped by customer", compute="_compute_recall", sanitize=False)
    held_count = fields.Integer(string="Held now", compute="_compute_recall")
    reason = fields.Text(help="Why the lots are held: written on each lot's hold history.")

    @api.depends("lot_id")
    def _compute_recall(self):
        Trace = self.env["mfg.traceability"]
        for recall in self:
            if not recall.lot_id:
                recall.update(
                    {
                        "affected_lot_ids": False,
                        "finished_lot_ids": False,
                        "quant_ids": False,
                        "shipped_line_ids": False,
                        "customer_summary": False,
                        "held_count": 0,
                    }
                )
                continue
            lots = Trace._mfg_affected_lots(recall.lot_id)
            consumed = (
                self.env["stock.move.line"]
                .search(
                    [
                        ("lot_id", "in", lots.ids),
                        ("state", "=", "done"),
                        ("move_id.raw_material_production_id", "!=", False),
                    ]
                )
                .lot_id
            )
            shipped = Trace._mfg_shipments(lots)
            recall.affected_lot_ids = lots
            recall.finished_lot_ids = lots - consumed
            recall.quant_ids = Trace._mfg_open_stock(lots)
            recall.shipped_line_ids = shipped
            recall.customer_summary = recall._mfg_customer_summary(shipped)
            recall.held_count = len(lots.filtered(lambda lot: lot.mfg_hold_state == "held"))

    def _mfg_customer_summary(self, shipped):
        """Shipped quantities per customer, delivery and lot (HTML table)."""
        if not shipped:
            return Markup("<p>%s</p>") % self.env._("Nothing was shipped.")
        rows = []
        for partner, lines in shipped.grouped(
            lambda ml: ml.picking_id.partner_id or ml.move_id.partner_id
        ).items():
            for (picking, lot), group in lines.grouped(lambda ml: (ml.picking_id, ml.lot_id)).items():
                qty = sum(group.mapped("quantity_product_uom"))
                rows.append(
                    Markup("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>")
                    % (
                        partner.display_name or "-",
                        picking.name or "-",
                        lot.name,
                        f"{qty:g} {lot.product_id.uom_id.name}",
                        fields.Datetime.to_string(max(group.mapped("date"))),
                    )
                )
        head = Markup("<tr><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th></tr>") % tuple(
            escape(h)
            for h in (
                self.env._("Customer"),
                self.env._("Delivery"),
                self.env._("Lot"),
                self.env._("Quantity"),
                self.env._("Shipped (UTC)"),
            )
        )
        return Markup('<table class="table table-sm"><thead>%s</thead><tbody>%s</tbody></table>') % (
            head,
            Markup("").join(rows),
        )

    def action_hold_affected(self):
        """Hold every affected lot (the quality hold: refuses deliveries and consumption, moves
        stock to quarantine where configured, tells the quality systems)."""
        self.ensure_one()
        if not self.env.user.has_group("mfg_integration_base.group_mfg_manager"):
            raise UserError(self.env._("Only Integration Managers may hold lots."))
        reason = (self.reason or "").strip()
        if not reason:
            raise UserError(self.env._("Say why the lots are held (field Reason)."))
        lots = self.affected_lot_ids
        lots._mfg_set_hold(
            "held", self.env._("Recall from lot %(lot)s: %(reason)s", lot=self.lot_id.name, reason=reason)
        )
        self.invalidate_recordset()
        return self._mfg_action()

    def action_view_stock(self):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Open stock of the affected lots"),
            "res_model": "stock.quant",
            "view_mode": "list",
            "domain": [("id", "in", self.quant_ids.ids)],
            "context": {"group_by": ["location_id"], "create": False},
        }

    def action_view_shipped(self):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Shipped affected lots"),
            "res_model": "stock.move.line",
            "view_mode": "list",
            "domain": [("id", "in", self.shipped_line_ids.ids)],
            "context": {"group_by": ["picking_id"], "create": False},
        }

    def _mfg_action(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Recall simulation"),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "current",
        }
