from odoo import fields, models


class MfgMessageConsumerMixin(models.AbstractModel):
    """For business models the integration touches: the integration messages linked to a record
    (``mfg.message.record``: the records a message created or changed, or an outbound message
    is about) as a count and an action — the "Integration messages" smart button.

    Like edi_oca's ``edi.exchange.consumer.mixin``: inherit it, and add the button to the form
    (see views/mfg_message_consumer_views.xml).
    """

    _name = "mfg.message.consumer.mixin"
    _description = "Integration messages of a business record"

    mfg_message_count = fields.Integer(
        string="Integration messages",
        compute="_compute_mfg_message_count",
        groups="mfg_integration_base.group_mfg_user",
    )

    def _mfg_message_link_domain(self):
        """The links (``mfg.message.record`` domain) whose messages these records show.
        Override to add related records (a product template shows those of its variants)."""
        return [("res_model", "=", self._name), ("res_id", "in", self.ids)]

    def _mfg_message_domain(self):
        """The ``mfg.message`` domain of the messages linked to these records."""
        return [("record_ids", "any", self._mfg_message_link_domain())]

    def _compute_mfg_message_count(self):
        Message = self.env["mfg.message"]
        for record in self:
            record.mfg_message_count = Message.search_count(record._mfg_message_domain()) if record.id else 0

    def action_view_mfg_messages(self):
        """The integration messages of these records (newest first)."""
        action = self.env["ir.actions.act_window"]._for_xml_id("mfg_integration_base.action_mfg_message")
        action.update(
            {
                "name": self.env._("Integration messages of %(record)s", record=self[:1].display_name)
                if len(self) == 1
                else self.env._("Integration messages"),
                "domain": self._mfg_message_domain(),
                "context": {"create": False},
            }
        )
        return action
