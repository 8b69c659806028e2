from odoo import api, fields, models
from odoo.exceptions import UserError


class MfgIncidentFix(models.TransientModel):
    """Create the code mapping an incident group misses, then retry the group: one click."""

    _name = "mfg.incident.fix"
    _description = "Fix an incident with a code mapping"

    backend_id = fields.Many2one("mfg.backend", required=True, readonly=True)
    exchange_type_id = fields.Many2one("mfg.exchange.type", string="Exchange type", readonly=True)
    signature = fields.Char(readonly=True)
    kind = fields.Selection(
        selection=lambda self: self.env["mfg.code.mapping"]._selection_kind(), readonly=True
    )
    external_code = fields.Char(string="Plant code", readonly=True)
    target_model = fields.Char(string="Model name", compute="_compute_target_model")
    target_model_id = fields.Many2one("ir.model", string="Record model", compute="_compute_target_model")
    target = fields.Reference(
        selection=lambda self: self.env["mfg.code.mapping"]._selection_target(), string="Odoo record"
    )
    value = fields.Char(help="For kinds without an Odoo record: the canonical value.")
    retry = fields.Boolean(string="Retry the group now", default=True)

    @api.depends("kind")
    def _compute_target_model(self):
        kinds = self.env["mfg.code.mapping"]._mfg_kinds()
        for wizard in self:
            model = kinds.get(wizard.kind, (None, None))[1] or False
            wizard.target_model = model
            wizard.target_model_id = self.env["ir.model"]._get(model) if model else False

    def action_apply(self):
        self.ensure_one()
        if self.target_model and (not self.target or self.target._name != self.target_model):
            raise UserError(
                self.env._(
                    "Choose the %(what)s that plant code '%(code)s' stands for.",
                    what=self.env[self.target_model]._description,
                    code=self.external_code,
                )
            )
        if not self.target_model and not self.value:
            raise UserError(
                self.env._("Give the value plant code '%(code)s' stands for.", code=self.external_code)
            )
        mapping = self.env["mfg.code.mapping"].create(
            {
                "backend_id": self.backend_id.id,
                "kind": self.kind,
                "external_code": self.external_code,
                "target": f"{self.target._name},{self.target.id}" if self.target_model else False,
                "value": False if self.target_model else self.value,
            }
        )
        messages = self.env["mfg.message"].search(
            [
                ("backend_id", "=", self.backend_id.id),
                ("error_signature", "=", self.signature),
                ("state", "in", ("failed", "dead")),
            ]
        )
        if self.retry and messages:
            messages.action_retry()
        text = self.env._(
            "Code mapping %(code)s → %(target)s created; %(n)s messages queued again.",
            code=mapping.external_code,
            target=mapping.target.display_name if mapping.target else mapping.value,
            n=len(messages) if self.retry else 0,
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            # The group's messages are queued again: the group itself is gone, back to the list.
            "params": {
                "type": "success",
                "message": text,
                "next": self.env["mfg.incident"]._mfg_list_action(),
            },
        }
