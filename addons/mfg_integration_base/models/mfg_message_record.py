from odoo import api, fields, models
from odoo.tools import create_index

from ..pipeline import outcome


class MfgMessageRecord(models.Model):
    """An Odoo record that a message created or changed."""

    _name = "mfg.message.record"
    _description = "Integration Message Related Record"
    _order = "id"

    message_id = fields.Many2one("mfg.message", required=True, ondelete="cascade", index=True)
    res_model = fields.Char(string="Model", required=True)
    res_id = fields.Many2oneReference(string="Record id", model_field="res_model", required=True)
    name = fields.Char(compute="_compute_name")
    model_description = fields.Char(string="Document", compute="_compute_name")

    def init(self):
        # "which messages touched this record?" (smart buttons, connectors' look-ups)
        create_index(self.env.cr, "mfg_message_record_res_idx", self._table, ["res_model", "res_id"])

    @api.depends("res_model", "res_id")
    def _compute_name(self):
        for rec in self:
            model = self.env.get(rec.res_model) if rec.res_model in self.env else None
            record = model.browse(rec.res_id).exists() if model is not None else None
            rec.name = record.display_name if record else f"{rec.res_model},{rec.res_id} (deleted)"
            rec.model_description = model._description if model is not None else rec.res_model

    @api.model
    def _mfg_link(self, message, records):
        """Remember the Odoo records ``message`` created or changed (``mfg.message._mfg_link``)."""
        message.ensure_one()
        rows = self._mfg_link_rows(message, records)
        if rows:
            outcome.insert_links(self.env.cr, rows)
            message.invalidate_recordset(["record_ids"])

    @api.model
    def _mfg_link_rows(self, message, records):
        """The rows of ``pipeline.outcome.insert_links`` linking ``message`` to ``records`` (a
        recordset, or a list of them; anything else is ignored, e.g. what a handler returns)."""
        message.ensure_one()
        if isinstance(records, models.BaseModel):
            records = [records]
        rows = []
        known = set()
        for recs in records or []:
            if not isinstance(recs, models.BaseModel):
                continue
            for rec in recs:
                if (rec._name, rec.id) not in known and rec.id:
                    known.add((rec._name, rec.id))
                    rows.append((message.id, rec._name, rec.id, self.env.uid, self.env.uid))
        return rows

    def action_open(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }
