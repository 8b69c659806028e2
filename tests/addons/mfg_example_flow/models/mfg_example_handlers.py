from odoo import models

from odoo.addons.mfg_integration_base.lib.dates import parse_rfc3339


class MfgExampleHandlers(models.AbstractModel):
    """Inbound handlers of the example exchange types. A handler gets the stored message and its payload,
    already valid against the exchange type's JSON Schema; it applies it the way a user would,
    and returns the records it created or changed (linked on the message)."""

    _name = "mfg.example.handlers"
    _description = "Example exchange type handlers"
    _inherit = ["mfg.handler.mixin"]

    def _mfg_handle_example_product_weight(self, message, data):
        """example.product_weight.v1: the measured weight becomes the product's weight."""
        # Plant codes are resolved in one place; an unknown one fails the message as a mapping
        # error ("add a code mapping, then retry") that the incident screen can fix.
        product = message.backend_id._mfg_resolve("product", data["product"], path="/product")
        measured_at = parse_rfc3339(data["measured_at"], "/measured_at")
        product.weight = data["weight_kg"]
        product.message_post(
            body=self.env._(
                "Weighed %(weight)s kg by %(backend)s at %(at)s UTC.",
                weight=data["weight_kg"],
                backend=message.backend_id.code,
                at=measured_at,
            )
        )
        return product
