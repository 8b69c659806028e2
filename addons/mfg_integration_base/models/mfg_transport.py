from odoo import models


class MfgTransport(models.AbstractModel):
    """Base of the outbound transports. One model per transport code: ``mfg.transport.<code>``
    (``http`` here; ``mqtt`` and ``file`` in their own addons/issues). A transport adds its
    code to ``mfg.backend.flow.transport`` with ``selection_add`` and implements ``_mfg_send``."""

    _name = "mfg.transport"
    _description = "Integration Transport"

    def _mfg_send(self, message):
        """Deliver ``message`` (an outbound mfg.message). Return a short text of the receiver's
        answer. Raise MfgTransientError when trying later may help, MfgPermanentError when it
        cannot."""
        raise NotImplementedError
