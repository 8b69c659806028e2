from odoo import fields, models


class ProductTemplate(models.Model):
    _inherit = "product.template"

    mfg_inspection_required = fields.Boolean(
        string="Inspection required",
        help="When a receipt or a manufacturing order of this product is done, Odoo asks the quality "
        "system to inspect each lot (erp.inspection_request). Needs lot or serial tracking.",
    )
    mfg_hold_until_inspected = fields.Boolean(
        string="Hold until inspected",
        help="Put each requested lot on quality hold until the inspection result arrives: a passing "
        "result releases it, a failing one keeps it held with its nonconformance.",
    )
