from odoo import models


class MfgB2mmlHandlers(models.AbstractModel):
    """Handlers of the contracts this addon adds (the other B2MML facts go to the contracts of
    the connectors, by code)."""

    _name = "mfg.b2mml.handlers"
    _description = "B2MML message handlers"
    _inherit = ["mfg.handler.mixin"]

    def _mfg_handle_mes_material_definition(self, message, data):
        """Find the product of a plant material code; create it when the policy says so."""
        backend = message.backend_id
        create = data["policy"] == "create"
        product = backend._mfg_resolve("product", data["code"], required=not create, path="/code")
        if product:
            return product
        vals = {"name": data.get("name") or data["code"], "default_code": data["code"], "is_storable": True}
        if data.get("uom"):
            uom = backend._mfg_resolve("uom", data["uom"], path="/uom")
            vals.update(uom_id=uom.id, uom_po_id=uom.id)
        product = self.env["product.product"].create(vals)
        return product
