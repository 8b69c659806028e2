from odoo import api, fields, models


class MfgBackendFlow(models.Model):
    """An exchange type a backend may use: the system-of-record policy, one line per contract."""

    _name = "mfg.backend.flow"
    _description = "Integration Backend Flow"
    _order = "backend_id, direction, exchange_type_id"

    backend_id = fields.Many2one("mfg.backend", required=True, ondelete="cascade", index=True)
    exchange_type_id = fields.Many2one(
        "mfg.exchange.type", string="Exchange type", required=True, ondelete="restrict"
    )
    direction = fields.Selection(related="exchange_type_id.direction", store=True)
    active = fields.Boolean(default=True)
    transport = fields.Selection(
        [("http", "HTTP POST")],
        default="http",
        help="Outbound: how messages of this flow are sent. Inbound messages may arrive by any "
        "transport enabled on the backend.",
    )
    endpoint = fields.Char(
        help="Outbound: URL (HTTP) or topic (MQTT) for this flow; empty = the backend's default."
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)

    _sql_constraints = [
        (
            "backend_type_uniq",
            "unique(backend_id, exchange_type_id)",
            "An exchange type is listed once per backend.",
        ),
    ]

    @api.depends("exchange_type_id", "direction")
    def _compute_display_name(self):
        for rec in self:
            rec.display_name = f"{rec.exchange_type_id.contract} ({rec.direction or ''})"
