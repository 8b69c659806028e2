"""A transport defined outside the base, through the interface of mfg.transport only: the
connection test and the drains must pick it up without any change in mfg_integration_base."""

from odoo import api, fields, models

from odoo.addons.mfg_integration_base.exceptions import MfgTransientError


class MfgBackend(models.Model):
    _inherit = "mfg.backend"

    test_loopback_state = fields.Selection(
        [("up", "Up"), ("down", "Down")], string="Loopback (test transport)"
    )


class MfgBackendFlow(models.Model):
    _inherit = "mfg.backend.flow"

    transport = fields.Selection(
        selection_add=[("loopback", "Loopback (test)")], ondelete={"loopback": "set default"}
    )


class MfgTransportLoopback(models.AbstractModel):
    """Sends nowhere: answers with the endpoint while the backend's loopback is up."""

    _name = "mfg.transport.loopback"
    _inherit = "mfg.transport"
    _description = "Integration Transport: loopback (test)"

    @api.model
    def _mfg_default_endpoint(self, backend, exchange_type):
        return f"loop://{backend.code}/{exchange_type.contract}"

    def _mfg_send(self, message):
        backend = message.backend_id
        if backend.test_loopback_state != "up":
            raise MfgTransientError(f"the loopback of backend {backend.code} is down")
        return f"looped back to {self._mfg_endpoint(backend, message.exchange_type_id)}"

    @api.model
    def _mfg_is_configured(self, backend):
        return bool(backend.test_loopback_state)

    @api.model
    def _mfg_setup_hint(self):
        return "a loopback state (test transport)"

    @api.model
    def _mfg_test_connection(self, backend):
        if backend.test_loopback_state == "up":
            return True, f"Loopback of {backend.code} is up."
        return False, f"Loopback of {backend.code} is down: nobody answers."
