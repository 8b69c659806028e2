from odoo import api, fields, models, tools
from odoo.exceptions import UserError

from ..lib import error_signature


class MfgIncident(models.Model):
    """Failed and dead messages grouped by cause: backend, exchange type and error signature
    (see lib/error_signature.py). A view on the message table, always up to date: a group
    disappears when its last message is retried to done or discarded."""

    _name = "mfg.incident"
    _description = "Integration Incident"
    _auto = False
    _order = "message_count desc, last_seen desc"
    _rec_name = "title"

    backend_id = fields.Many2one("mfg.backend", readonly=True)
    exchange_type_id = fields.Many2one("mfg.exchange.type", string="Exchange type", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    signature = fields.Char(readonly=True)
    error_class = fields.Selection(
        [
            ("mapping", "Missing code mapping"),
            ("business", "Business rule"),
            ("transient", "Temporary (gave up)"),
            ("internal", "Unexpected error"),
            ("validation", "Contract violation"),
        ],
        readonly=True,
    )
    message_count = fields.Integer(string="Messages", readonly=True)
    dead_count = fields.Integer(string="Dead", readonly=True)
    first_seen = fields.Datetime(readonly=True, help="Oldest message of the group received at.")
    last_seen = fields.Datetime(readonly=True, help="Latest failure of the group.")
    sample_error = fields.Text(string="Latest error", readonly=True)
    affected = fields.Char(
        string="Affected orders / lots", readonly=True, help="Ordering keys of the messages (the first 10)."
    )
    title = fields.Char(compute="_compute_title")
    mapping_kind = fields.Char(compute="_compute_title")
    mapping_code = fields.Char(compute="_compute_title")
    can_fix_mapping = fields.Boolean(compute="_compute_title")

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            f"""
            CREATE VIEW {self._table} AS (
                SELECT min(m.id) AS id,
                       m.backend_id, m.exchange_type_id, m.company_id,
                       m.error_signature AS signature,
                       split_part(m.error_signature, '|', 1) AS error_class,
                       count(*) AS message_count,
                       count(*) FILTER (WHERE m.state = 'dead') AS dead_count,
                       min(m.received_at) AS first_seen,
                       max(coalesce(m.processed_at, m.write_date)) AS last_seen,
                       (array_agg(m.error_message ORDER BY m.id DESC))[1] AS sample_error,
                       array_to_string((array_agg(DISTINCT m.ordering_key)
                                        FILTER (WHERE m.ordering_key IS NOT NULL))[1:10], ', ') AS affected
                  FROM mfg_message m
                 WHERE m.state IN ('failed', 'dead') AND m.error_signature IS NOT NULL
                 GROUP BY m.backend_id, m.exchange_type_id, m.company_id, m.error_signature
            )
            """
        )

    @api.depends("signature", "exchange_type_id", "backend_id")
    def _compute_title(self):
        kinds = self.env["mfg.code.mapping"]._mfg_kinds()
        for incident in self:
            error_class, text, kind, code = error_signature.describe(incident.signature)
            incident.mapping_kind = kind
            incident.mapping_code = code
            incident.can_fix_mapping = bool(kind and kind in kinds)
            if kind:
                label = kinds.get(kind, (kind,))[0].lower()
                text = self.env._("Unknown %(kind)s code '%(code)s'", kind=label, code=code)
            incident.title = f"{incident.exchange_type_id.contract or ''}: {text}"

    def _mfg_messages(self):
        """The failed and dead messages of these groups."""
        domain = []
        for incident in self:
            domain = (
                (["|"] if domain else [])
                + domain
                + [
                    "&",
                    "&",
                    "&",
                    ("backend_id", "=", incident.backend_id.id),
                    ("exchange_type_id", "=", incident.exchange_type_id.id),
                    ("error_signature", "=", incident.signature),
                    ("state", "in", ("failed", "dead")),
                ]
            )
        return self.env["mfg.message"].search(domain) if domain else self.env["mfg.message"]

    def action_view_messages(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("mfg_integration_base.action_mfg_message")
        action["domain"] = [("id", "in", self._mfg_messages().ids)]
        action["context"] = {}
        action["name"] = self.title
        return action

    def action_retry_group(self):
        messages = self._mfg_messages()
        if not messages:
            raise UserError(self.env._("Nothing left to retry in this group: refresh the list."))
        messages.action_retry()
        return self._mfg_notify(self.env._("%(n)s messages queued again.", n=len(messages)))

    def action_fix_mapping(self):
        self.ensure_one()
        if not self.can_fix_mapping:
            raise UserError(self.env._("This group is not about a missing code mapping."))
        return {
            "type": "ir.actions.act_window",
            "res_model": "mfg.incident.fix",
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Add the missing code mapping"),
            "context": {
                "default_backend_id": self.backend_id.id,
                "default_exchange_type_id": self.exchange_type_id.id,
                "default_signature": self.signature,
                "default_kind": self.mapping_kind,
                "default_external_code": self.mapping_code,
            },
        }

    def action_discard_group(self):
        messages = self._mfg_messages()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_base.action_mfg_message_discard_wizard"
        )
        action["context"] = {"active_model": "mfg.message", "active_ids": messages.ids}
        return action

    @api.model
    def _mfg_list_action(self):
        action = self.env["ir.actions.act_window"]._for_xml_id("mfg_integration_base.action_mfg_incident")
        action["target"] = "main"
        return action

    def _mfg_notify(self, text):
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
