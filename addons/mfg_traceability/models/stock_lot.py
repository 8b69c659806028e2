from odoo import models

from ..lib import genealogy


class StockLot(models.Model):
    _name = "stock.lot"
    _inherit = ["stock.lot", "mfg.traceability.mixin"]

    def _mfg_trace_scope(self):
        return self, self.env["mrp.production"], self.env["stock.picking"]

    def _mfg_genealogy(self, direction=genealogy.UPSTREAM, max_depth=None):
        """The genealogy tree of this lot (see ``mfg.traceability._mfg_genealogy``)."""
        return self.env["mfg.traceability"]._mfg_genealogy(self, direction, max_depth)

    def action_mfg_genealogy(self):
        """The genealogy trees of this lot on screen: made from / went into."""
        self.ensure_one()
        return self.env["mfg.genealogy"].create({"lot_id": self.id})._mfg_action()

    def action_mfg_recall(self):
        """Recall simulation from this (suspect) lot."""
        self.ensure_one()
        recall = self.env["mfg.recall"].create({"lot_id": self.id})
        return recall._mfg_action()

    def action_mfg_evidence_pack(self):
        """Produce and open an evidence pack of this lot's thread."""
        self.ensure_one()
        pack = self.env["mfg.evidence.pack"]._mfg_produce(self)
        return pack._mfg_action()
