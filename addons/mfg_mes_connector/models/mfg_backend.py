from odoo import fields, models


class MfgBackend(models.Model):
    _inherit = "mfg.backend"

    mes_item_categ_ids = fields.Many2many(
        "product.category",
        "mfg_backend_mes_item_categ_rel",
        "backend_id",
        "categ_id",
        string="Item master categories",
        help="erp.item_master: only products of these categories (and their sub-categories) are sent "
        "to this backend. Empty: every goods product of the backend's company that has a code.",
    )

    def _mfg_mes_item_relevant(self, product):
        """Whether ``product`` belongs in this backend's item master (extension point)."""
        self.ensure_one()
        if product.type != "consu":
            return False
        if product.company_id and product.company_id != self.company_id:
            return False
        if self.mes_item_categ_ids:
            path = product.categ_id.parent_path or ""
            return any(path.startswith(categ.parent_path) for categ in self.mes_item_categ_ids)
        return True
