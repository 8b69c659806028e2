from odoo import models


class MfgMessage(models.Model):
    _inherit = "mfg.message"

    def _mfg_record_failure(self, exc, attempts, start):
        """A B2MML Process document that is rejected (it cannot be read) is answered with a
        Rejected acknowledgement when its backend asks for them (the accepted ones are
        acknowledged by the wire format when decoded, ``mfg.wire.b2mml._mfg_decode``)."""
        result = super()._mfg_record_failure(exc, attempts, start)
        if (
            self.direction == "inbound"
            and self.wire_format == "b2mml"
            and self.state == "rejected"
            and self.backend_id.b2mml_acknowledge
        ):
            note = self.env["mfg.wire.b2mml"]._mfg_acknowledge_rejection(self)
            if note:
                self._mfg_write_outcome({"error_message": f"{self.error_message}\n{note}"})
        return result
