from odoo import models

from ..exceptions import MfgPermanentError


class MfgTransportRest(models.AbstractModel):
    """Inbound REST: plant systems POST to ``/mfg/api/v1/<backend>/<exchange type>``
    (controllers/ingest.py, API keys: mfg_backend_api.py). Inbound only: the plant calls Odoo,
    so there is nothing to send with it, nor a connection to test from here."""

    _name = "mfg.transport.rest"
    _inherit = "mfg.transport"
    _description = "Integration Transport: REST API (inbound)"

    def _mfg_send(self, message):
        raise MfgPermanentError(
            self.env._(
                "Message %(message)s cannot be sent by REST: REST is inbound only. Choose the transport "
                "of the flow of %(type)s on backend %(backend)s (HTTP, MQTT...).",
                message=message.name,
                type=message.exchange_type_id.contract,
                backend=message.backend_id.code,
            )
        )
