"""The HTTP side of a backend: where outbound messages go (checked when saved against the allowed
hosts, outbound.py), the credentials, and how webhooks are signed (webhook_signing.py)."""

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from . import webhook_signing

WEBHOOK_SIGNATURES = [
    ("standard", "Standard Webhooks"),
    ("standard_legacy", "Standard Webhooks + legacy X-Mfg-Signature (transition)"),
]


# One file per side of a backend, like mfg_backend_api.py (REST API) and mfg_backend_mqtt.py (MQTT):
# mfg_backend.py stays about the plant system itself, drains and health.
class MfgBackend(models.Model):
    _inherit = "mfg.backend"  # pylint: disable=consider-merging-classes-inherited

    # Secrets are visible to managers only and never logged.
    http_url = fields.Char(string="HTTP URL", tracking=True, help="Default URL of outbound HTTP messages.")
    http_timeout = fields.Integer(string="HTTP timeout (s)", default=10, tracking=True)
    http_token = fields.Char(
        string="HTTP bearer token", groups="mfg_integration_base.group_mfg_manager", copy=False
    )
    hmac_secret = fields.Char(
        string="HMAC secret",
        groups="mfg_integration_base.group_mfg_manager",
        copy=False,
        help="Shared secret of the HMAC-SHA256 signature of outbound HTTP messages (Standard Webhooks "
        "webhook-signature; whsec_... as the receiver gives it, or Generate secret).",
    )
    webhook_signature = fields.Selection(
        WEBHOOK_SIGNATURES,
        string="Webhook signature",
        default="standard",
        required=True,
        tracking=True,
        help="Outbound messages with an HMAC secret carry the Standard Webhooks headers webhook-id, "
        "webhook-timestamp and webhook-signature (the message id, time and body signed). During a "
        "transition they also carry the legacy X-Mfg-Timestamp / X-Mfg-Signature (time and body only: a "
        "captured request can be replayed under a new id), for receivers not moved over yet.",
    )

    @api.constrains("http_url")
    def _check_http_url_allowed(self):
        transport = self.env["mfg.transport.http"]
        for backend in self.filtered("http_url"):
            refusal = transport._mfg_url_refusal(backend.http_url)
            if refusal:
                raise ValidationError(
                    self.env._(
                        "HTTP URL %(url)s of backend %(backend)s: %(reason)s",
                        url=backend.http_url,
                        backend=backend.code,
                        reason=refusal,
                    )
                )

    @api.constrains("hmac_secret")
    def _check_hmac_secret(self):
        for backend in self.sudo():
            if not backend.hmac_secret:
                continue
            try:
                webhook_signing.signing_key(backend.hmac_secret)
            except ValueError as exc:
                raise ValidationError(
                    self.env._(
                        "The HMAC secret of backend %(backend)s starts with whsec_ but %(error)s. A Standard "
                        "Webhooks secret is whsec_ followed by the base64 of 24 to 64 random bytes: paste the "
                        "receiver's secret or use Generate secret.",
                        backend=backend.code,
                        error=exc,
                    )
                ) from exc

    def action_generate_hmac_secret(self):
        """A new Standard Webhooks secret (whsec_...) for this backend; give it to the receiver."""
        self.ensure_one()
        self.hmac_secret = webhook_signing.new_secret()
        return True
