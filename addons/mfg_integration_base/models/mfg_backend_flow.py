from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .mfg_audit import describe_changes, post_backend_notes


class MfgBackendFlow(models.Model):
    """A flow: a backend may use one exchange type, in that type's direction (the system-of-record
    policy, one line per backend and exchange type). See the glossary in docs/ARCHITECTURE.md."""

    _name = "mfg.backend.flow"
    _description = "Integration Flow"
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
    wire_format = fields.Selection(
        [("json", "JSON contract")],
        default="json",
        required=True,
        help="Inbound: what the plant system sends on this flow. JSON contract: the canonical "
        "payload itself. Another format (e.g. B2MML XML, from its addon): each message is a "
        "document kept as received and decoded into canonical facts, one child message each. "
        "Outbound: what is sent. JSON contract: the canonical payload; another format: the "
        "canonical payload encoded at send time (the message keeps both).",
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

    @api.constrains("endpoint", "transport")
    def _check_endpoint_allowed(self):
        """An HTTP endpoint must be an allowed outbound URL (transports/http/outbound.py)."""
        transport = self.env["mfg.transport.http"]
        for flow in self.filtered(
            lambda f: f.endpoint and f.transport == "http" and f.direction == "outbound"
        ):
            refusal = transport._mfg_url_refusal(flow.endpoint)
            if refusal:
                raise ValidationError(
                    self.env._(
                        "Endpoint %(url)s of flow %(flow)s: %(reason)s",
                        url=flow.endpoint,
                        flow=flow.display_name,
                        reason=refusal,
                    )
                )

    @api.depends("exchange_type_id", "direction")
    def _compute_display_name(self):
        for rec in self:
            rec.display_name = f"{rec.exchange_type_id.contract} ({rec.direction or ''})"

    # ------------------------------------------------------------------ audit (backend chatter)
    # mqtt_retained: defined with the MQTT transport (transports/mqtt/mfg_transport_mqtt.py)
    _AUDITED = ("exchange_type_id", "active", "transport", "wire_format", "endpoint", "mqtt_retained")

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        post_backend_notes(records, self.env._("Flow(s) added:"), lambda r: r.display_name)
        return records

    def write(self, vals):
        audited = [f for f in self._AUDITED if f in vals]
        res = super().write(vals)
        if audited:
            post_backend_notes(
                self,
                self.env._("Flow(s) changed:"),
                lambda r: f"{r.display_name} → {describe_changes(r, vals, audited)}",
            )
        return res

    def unlink(self):
        post_backend_notes(self, self.env._("Flow(s) removed:"), lambda r: r.display_name)
        return super().unlink()
