from odoo import models


class ProductTemplate(models.Model):
    _name = "product.template"
    _inherit = ["product.template", "mfg.message.consumer.mixin"]

    def _mfg_message_link_domain(self):
        """A template shows the messages of its variants too (handlers link variants)."""
        variants = self.with_context(active_test=False).product_variant_ids
        return [
            "|",
            "&",
            ("res_model", "=", self._name),
            ("res_id", "in", self.ids),
            "&",
            ("res_model", "=", "product.product"),
            ("res_id", "in", variants.ids),
        ]
