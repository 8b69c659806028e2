from odoo import models


class MfgTraceabilityMixin(models.AbstractModel):
    """The "Traceability" smart button: the digital thread of a business record's lots and of
    the orders and transfers around them. Inherit it and say which lots, orders and transfers
    a record stands for (:meth:`_mfg_trace_scope`); add the button to the form
    (views/traceability_button_views.xml)."""

    _name = "mfg.traceability.mixin"
    _description = "Traceability button of a business record"

    def _mfg_trace_scope(self):
        """``(lots, productions, pickings)`` the thread of these records covers."""
        raise NotImplementedError(f"{self._name} must say which lots its thread covers (_mfg_trace_scope)")

    def action_mfg_traceability(self):
        lots, productions, pickings = self._mfg_trace_scope()
        return self.env["mfg.trace"]._mfg_open(
            lots, productions, pickings, name=", ".join(self[:5].mapped("display_name"))
        )
