from odoo import api, fields, models

from ..pipeline import document


class MfgMessageDocument(models.Model):
    """Documents and their facts: a message received in a wire format other than the JSON
    contract (e.g. B2MML XML) keeps its raw payload and is decoded by the drain into child
    messages, one per canonical fact, in document order (``pipeline/document.py``)."""

    _inherit = "mfg.message"  # pylint: disable=consider-merging-classes-inherited

    wire_format = fields.Char(
        readonly=True,
        help="Empty: the payload is the canonical JSON contract. Otherwise the wire format the "
        "payload is written in (e.g. b2mml): the message is a document, decoded into child "
        "messages (one per fact).",
    )
    wire_format_sent = fields.Char(
        string="Sent in wire format",
        readonly=True,
        help="Outbound: the wire format the canonical payload was encoded in when sent (e.g. b2mml).",
    )
    wire_payload = fields.Text(
        string="Payload as sent",
        readonly=True,
        help="Outbound in a wire format other than the JSON contract: the document sent (e.g. B2MML "
        "XML), encoded from the canonical payload when it was sent (a failed attempt keeps nothing: "
        "the attempt is rolled back, its error says why).",
    )
    parent_id = fields.Many2one(
        "mfg.message",
        string="Document",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",  # retention may remove a document before its facts
        help="The document (raw payload as received) this fact was decoded from.",
    )
    document_position = fields.Integer(
        string="Position in document", readonly=True, help="1 for the document's first fact."
    )
    child_ids = fields.One2many("mfg.message", "parent_id", string="Facts", readonly=True)
    child_count = fields.Integer(string="Facts (count)", compute="_compute_child_count")

    @api.depends("child_ids")
    def _compute_child_count(self):
        for rec in self:
            rec.child_count = len(rec.child_ids)

    def _mfg_decode_document(self):
        """The drain's step for a document: decode it and store its facts as child messages
        (same transaction as the document's outcome). Returns None (no records to link)."""
        return document.explode(self)

    def action_view_children(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Facts of %(doc)s", doc=self.display_name),
            "res_model": "mfg.message",
            "view_mode": "list,form",
            "domain": [("parent_id", "=", self.id)],
            "context": {"create": False},
        }

    def action_view_parent(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "mfg.message",
            "view_mode": "form",
            "res_id": self.parent_id.id,
        }
