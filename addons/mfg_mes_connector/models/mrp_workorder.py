from odoo import api, fields, models


class MrpWorkorder(models.Model):
    _inherit = "mrp.workorder"

    # The inverse of blocked_by_workorder_ids without a domain. A work order's state depends on
    # blocked_by_workorder_ids.state, so every change of a work order's state (starting it,
    # reserving or consuming its MO's components, marking the MO done) looks for the work orders
    # it blocks. mrp's own inverse (needed_by_workorder_ids) has a domain, which the ORM does not
    # use for that, so it searched the dependency table each time: about 90 queries per MO and
    # fact cycle, a quarter of the SQL time of the MES facts (bench/mes_facts.py). With an inverse
    # without domain, the ORM reads it once per batch of records and keeps it in its cache.
    # Same table and columns as needed_by_workorder_ids: nothing stored twice, no UI.
    mfg_needed_by_ids = fields.Many2many(
        "mrp.workorder",
        relation="mrp_workorder_dependencies_rel",
        column1="blocked_by_id",
        column2="workorder_id",
        string="Blocks (for the ORM's dependencies)",
        copy=False,
        readonly=True,
    )

    # needed_by_workorder_ids writes the same rows, but the ORM updates in its cache only the
    # inverses of the field written (blocked_by_workorder_ids): forget ours, it is read again.
    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        if any("needed_by_workorder_ids" in vals for vals in vals_list):
            self.invalidate_model(["mfg_needed_by_ids"])
        return records

    def write(self, vals):
        res = super().write(vals)
        if "needed_by_workorder_ids" in vals:
            self.invalidate_model(["mfg_needed_by_ids"])
        return res
