from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..lib import genealogy, genealogy_html


class MfgGenealogy(models.TransientModel):
    """The genealogy of one lot on screen: the tree of what it was made from and the tree of
    what it went into (and to which customers), rendered server-side as nested, foldable lists
    whose nodes open their lot, manufacturing order or delivery."""

    _name = "mfg.genealogy"
    _description = "Lot genealogy tree"

    lot_id = fields.Many2one("stock.lot", string="Lot/Serial", required=True, ondelete="cascade")
    product_id = fields.Many2one(related="lot_id.product_id")
    max_depth = fields.Integer(
        string="Depth limit",
        default=genealogy.DEFAULT_MAX_DEPTH,
        required=True,
        help=f"How many levels of manufacturing orders to walk each way (1 to {genealogy.MAX_DEPTH}).",
    )
    upstream_html = fields.Html(string="Made from", compute="_compute_trees", sanitize=False)
    downstream_html = fields.Html(string="Went into", compute="_compute_trees", sanitize=False)

    @api.depends("lot_id")
    def _compute_display_name(self):
        for wizard in self:
            wizard.display_name = self.env._("Genealogy: %(lot)s", lot=wizard.lot_id.display_name or "-")

    @api.constrains("max_depth")
    def _check_max_depth(self):
        for wizard in self:
            try:
                genealogy.check_depth(wizard.max_depth)
            except ValueError as exc:
                raise ValidationError(self.env._("Depth limit: %(error)s", error=str(exc))) from exc

    @api.depends("lot_id", "max_depth")
    def _compute_trees(self):
        for wizard in self:
            if not wizard.lot_id or not 1 <= wizard.max_depth <= genealogy.MAX_DEPTH:
                wizard.upstream_html = wizard.downstream_html = False
                continue
            wizard.upstream_html = wizard._mfg_render(genealogy.UPSTREAM)
            wizard.downstream_html = wizard._mfg_render(genealogy.DOWNSTREAM)

    def _mfg_texts(self, direction):
        return {
            "via": self.env._("via"),
            "to": self.env._("to"),
            "untracked": self.env._("(untracked)"),
            "cycle": self.env._("cycle: already on this path"),
            "depth_limit": self.env._("depth limit: more levels not shown"),
            "empty": self.env._("Bought or received, not made from other lots.")
            if direction == genealogy.UPSTREAM
            else self.env._("Not consumed into any other lot."),
        }

    def _mfg_render(self, direction):
        """The tree of the lot in ``direction`` as HTML (names escaped in lib/genealogy_html)."""
        self.ensure_one()
        Trace = self.env["mfg.traceability"]
        tree = self.lot_id._mfg_genealogy(direction, self.max_depth)
        truncated = Trace._mfg_beyond_depth(tree, direction, self.max_depth)
        return genealogy_html.render(tree, self._mfg_texts(direction), truncated)

    def action_open_thread(self):
        """The lot's digital thread (events in time order)."""
        self.ensure_one()
        return self.lot_id.action_mfg_traceability()

    def _mfg_action(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.display_name,
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "current",
        }
