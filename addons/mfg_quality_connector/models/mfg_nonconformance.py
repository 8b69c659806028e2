from datetime import timedelta

from odoo import api, fields, models

from odoo.addons.mfg_integration_base.lib.dates import parse_rfc3339

SEVERITIES = [("minor", "Minor"), ("major", "Major"), ("critical", "Critical")]
DISPOSITIONS = [
    ("pending", "Pending"),
    ("use_as_is", "Use as is"),
    ("rework", "Rework"),
    ("repair", "Repair"),
    ("scrap", "Scrap"),
    ("return_to_supplier", "Return to supplier"),
]
# Days the quality manager has to decide the corrective action, by severity (minor ones get none).
CORRECTIVE_ACTION_DAYS = {"critical": 1, "major": 7}


class MfgNonconformance(models.Model):
    """A nonconformance (NCR): what is wrong with which lots, how bad, and what is done about it."""

    _name = "mfg.nonconformance"
    _description = "Nonconformance"
    _inherit = ["mail.thread", "mail.activity.mixin", "mfg.handler.mixin"]
    _order = "detected_at desc, id desc"

    name = fields.Char(string="Number", required=True, copy=False, tracking=True, index=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    backend_id = fields.Many2one("mfg.backend", string="Quality system", ondelete="restrict", tracking=True)
    state = fields.Selection(
        [("open", "Open"), ("closed", "Closed")], default="open", required=True, tracking=True
    )
    product_id = fields.Many2one("product.product", tracking=True)
    lot_ids = fields.Many2many("stock.lot", string="Lots", tracking=True)
    defect_code = fields.Char(string="Plant defect code", tracking=True, help="The quality system's code.")
    defect = fields.Char(
        tracking=True, help="Canonical defect, from the backend's 'defect' code mapping (or the plant code)."
    )
    severity = fields.Selection(SEVERITIES, default="major", required=True, tracking=True)
    disposition = fields.Selection(DISPOSITIONS, default="pending", required=True, tracking=True)
    description = fields.Text()
    detected_at = fields.Datetime(default=fields.Datetime.now, tracking=True)
    inspection_id = fields.Many2one("mfg.quality.inspection", tracking=True)
    mfg_message_id = fields.Many2one("mfg.message", string="Last message", readonly=True)
    held_lot_count = fields.Integer(compute="_compute_held_lot_count")

    _sql_constraints = [
        ("name_company_uniq", "unique(company_id, name)", "A nonconformance number is unique per company."),
    ]

    @api.depends("lot_ids.mfg_hold_state")
    def _compute_held_lot_count(self):
        for rec in self:
            rec.held_lot_count = len(rec.lot_ids.filtered(lambda lot: lot.mfg_hold_state == "held"))

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if not vals.get("name"):
                vals["name"] = self.env["ir.sequence"].next_by_code("mfg.nonconformance") or "/"
        records = super().create(vals_list)
        records._mfg_schedule_corrective_action()
        return records

    @api.model
    def _mfg_find(self, backend, number):
        return self.search([("name", "=", number), ("company_id", "=", backend.company_id.id)], limit=1)

    def _mfg_quality_manager(self):
        """Who decides the corrective action: the quality manager of the nonconformance's
        backend, else the first active internal Integration Manager (not OdooBot), else the
        administrator."""
        self.ensure_one()
        manager = self.backend_id.sudo().mfg_quality_manager_id
        if manager and manager.active:
            return manager
        root = self.env.ref("base.user_root")
        managers = self.env.ref("mfg_integration_base.group_mfg_manager").users.filtered(
            lambda u: not u.share and u.active and u != root
        )
        return managers.sorted("id")[:1] or self.env.ref("base.user_admin")

    def _mfg_schedule_corrective_action(self):
        """A major or critical nonconformance gets a 'corrective action' to-do for the quality
        manager (once), due in CORRECTIVE_ACTION_DAYS days by severity (critical 1, major 7)."""
        todo = self.env.ref("mail.mail_activity_data_todo", raise_if_not_found=False)
        for rec in self.filtered(lambda r: r.severity in CORRECTIVE_ACTION_DAYS and r.state == "open"):
            summary = self.env._("Corrective action")
            deadline = fields.Date.context_today(rec) + timedelta(days=CORRECTIVE_ACTION_DAYS[rec.severity])
            existing = rec.activity_ids.filtered(lambda a, s=summary: a.summary == s)
            if existing:
                # Escalated (major -> critical): the decision is due sooner, never later.
                existing.filtered(lambda a, d=deadline: a.date_deadline > d).write(
                    {"date_deadline": deadline}
                )
                continue
            user = rec._mfg_quality_manager()
            rec.activity_schedule(
                activity_type_id=todo.id if todo else False,
                summary=summary,
                note=self.env._(
                    "Nonconformance %(nc)s (%(severity)s, %(defect)s): decide the corrective action.",
                    nc=rec.name,
                    severity=dict(SEVERITIES)[rec.severity],
                    defect=rec.defect or rec.defect_code or "-",
                ),
                user_id=user.id,
                date_deadline=deadline,
            )

    def action_close(self):
        self.write({"state": "closed"})
        return True

    def action_reopen(self):
        self.write({"state": "open"})
        return True

    def action_view_lots(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("stock.action_production_lot_form")
        action["domain"] = [("id", "in", self.lot_ids.ids)]
        action["context"] = {}
        return action

    # ------------------------------------------------------------------ handler
    def _mfg_handle_nonconformance(self, message, data):
        """Handler of qms.nonconformance.v1: create or update the nonconformance of that number."""
        backend = message.backend_id
        product = backend._mfg_resolve("product", data["product"])
        Lot = self.env["stock.lot"]
        lots = Lot.browse()
        for index, code in enumerate(data["lots"]):
            lots |= Lot._mfg_find_lot(backend, code, product, path=f"/lots/{index}")
        defect = backend._mfg_resolve("defect", data["defect_code"], required=False)
        if isinstance(defect, models.BaseModel):
            defect = defect.display_name
        vals = {
            "backend_id": backend.id,
            "product_id": product.id,
            "lot_ids": [fields.Command.link(lot.id) for lot in lots],
            "defect_code": data["defect_code"],
            "defect": defect or data["defect_code"],
            "severity": data["severity"],
            "mfg_message_id": message.id,
        }
        for key in ("disposition", "description"):
            if key in data:
                vals[key] = data[key]
        if data.get("detected_at"):
            vals["detected_at"] = parse_rfc3339(data["detected_at"], "/detected_at")
        if data.get("status"):
            vals["state"] = data["status"]
        if data.get("inspection_id"):
            inspection = self.env["mfg.quality.inspection"].search(
                [("backend_id", "=", backend.id), ("name", "=", data["inspection_id"])], limit=1
            )
            vals["inspection_id"] = inspection.id or False
        nonconformance = self._mfg_find(backend, data["nonconformance_id"])
        if nonconformance:
            nonconformance.write(vals)
            nonconformance._mfg_schedule_corrective_action()
            nonconformance.message_post(body=self.env._("Updated by %(msg)s.", msg=message.display_name))
        else:
            vals.update(name=data["nonconformance_id"], company_id=backend.company_id.id)
            nonconformance = self.create(vals)
            nonconformance.message_post(body=self.env._("Created by %(msg)s.", msg=message.display_name))
        return nonconformance
