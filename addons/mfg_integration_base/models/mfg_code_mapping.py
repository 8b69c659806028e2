from odoo import api, fields, models

# kind -> (label, model, Odoo field used when the backend falls back to Odoo's own codes)
MAPPING_KINDS = {
    "product": ("Product", "product.product", "default_code"),
    "uom": ("Unit of measure", "uom.uom", "name"),
    "workcenter": ("Work center", "mrp.workcenter", "code"),
    "location": ("Location", "stock.location", "barcode"),
    "warehouse": ("Warehouse", "stock.warehouse", "code"),
    "lot": ("Lot/serial", "stock.lot", "name"),
    "loss_reason": ("Downtime reason", "mrp.workcenter.productivity.loss", "name"),
    "partner": ("Partner", "res.partner", "ref"),
    "defect": ("Defect", None, None),
    "other": ("Other value", None, None),
}


class MfgCodeMapping(models.Model):
    """Per backend: a plant's code of some kind → an Odoo record (or a plain value)."""

    _name = "mfg.code.mapping"
    _description = "Integration Code Mapping"
    _order = "backend_id, kind, external_code"
    _rec_name = "external_code"

    backend_id = fields.Many2one("mfg.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    kind = fields.Selection(selection="_selection_kind", required=True, index=True)
    external_code = fields.Char(string="Plant code", required=True, index=True)
    target = fields.Reference(selection="_selection_target", string="Odoo record")
    value = fields.Char(help="For kinds without an Odoo record (defect codes...): the canonical value.")
    note = fields.Char()
    active = fields.Boolean(default=True)

    _sql_constraints = [
        (
            "backend_kind_code_uniq",
            "unique(backend_id, kind, external_code)",
            "A plant code is mapped once per backend and kind.",
        ),
    ]

    @api.model
    def _mfg_kinds(self):
        """Extension point: {kind: (label, model or None, fallback field or None)}."""
        return dict(MAPPING_KINDS)

    @api.model
    def _selection_kind(self):
        return [(k, v[0]) for k, v in self._mfg_kinds().items()]

    @api.model
    def _selection_target(self):
        models_ = {v[1] for v in self._mfg_kinds().values() if v[1]}
        return [(m, self.env[m]._description) for m in sorted(models_) if m in self.env]

    @api.depends("kind", "external_code", "target", "value")
    def _compute_display_name(self):
        for rec in self:
            to = rec.target.display_name if rec.target else rec.value or "?"
            rec.display_name = f"{rec.kind}:{rec.external_code} → {to}"

    @api.onchange("kind")
    def _onchange_kind(self):
        model = self._mfg_kinds().get(self.kind, (None, None))[1]
        if self.target and self.target._name != model:
            self.target = False
