from operator import itemgetter

from odoo import api, models

from ..lib.outbox import plant_code

ITEM_TYPE = "erp.item_master"
# What the MES knows of an item: a change to one of these is published.
ITEM_FIELDS = {
    "name",
    "default_code",
    "barcode",
    "uom_id",
    "tracking",
    "type",
    "is_storable",
    "active",
    "categ_id",
    "company_id",
}


class ProductProduct(models.Model):
    _inherit = "product.product"

    @api.model_create_multi
    def create(self, vals_list):
        products = super().create(vals_list)
        products._mfg_mes_publish_items()
        return products

    def write(self, vals):
        if not ITEM_FIELDS & set(vals):
            return super().write(vals)
        # One publication, after the write (not one more from the template's write).
        res = super(ProductProduct, self.with_context(mfg_mes_no_publish=True)).write(vals)
        self._mfg_mes_publish_items()
        return res

    def _mfg_mes_publish_items(self):
        """Queue (or refresh the queued) erp.item_master message of each product for every
        backend with the flow it is relevant to. erp.item_master is a batch exchange type: sent by the scheduled drain."""
        if self.env.context.get("mfg_mes_no_publish") or not self:
            return self.env["mfg.message"]
        messages = self.env["mfg.message"].sudo()
        Outbox = self.env["mfg.outbox"]
        backends = Outbox._mfg_backends(ITEM_TYPE)
        if not backends:
            return messages
        key = itemgetter("correlation_id")  # its ordering key too: "item:<code>"
        for product in self.with_context(active_test=False).sudo():
            # No payload (None) without a code for the plant: nothing the MES could file it under.
            messages |= Outbox._mfg_put(
                backends.filtered(lambda b, p=product: b._mfg_mes_item_relevant(p)),
                ITEM_TYPE,
                product._mfg_mes_item_payload,
                ordering_key=key,
                correlation_id=key,
                record=product,
                coalesce=True,
            )
        return messages

    def _mfg_mes_item_payload(self, backend):
        """erp.item_master.v1 payload of the product for ``backend`` (None without a code)."""
        self.ensure_one()
        code = plant_code(backend, "product", self, self.default_code)
        if not code:
            return None
        data = self.env["mfg.outbox"]._mfg_envelope(f"item-{code}", correlation_id=f"item:{code}")
        data.update(self._mfg_mes_item_fields(backend, code))
        return data

    def _mfg_mes_item_fields(self, backend, code):
        """Item description shared by the item master and the materials API."""
        return {
            "product": code,
            "name": self.name,
            "uom": plant_code(backend, "uom", self.uom_id, self.uom_id.name),
            "tracking": self.tracking,
            "type": "storable" if self.is_storable else "consumable",
            "barcode": self.barcode or None,
            "active": self.active,
        }

    def _mfg_mes_material_payload(self, backend, code):
        """The materials API's answer: how the plant ``code`` resolved, and the item."""
        self.ensure_one()
        mapped = self.env["mfg.code.mapping"]._mfg_has_mapping(backend, "product", code)
        data = {"code": code, "resolved": True, "source": "mapping" if mapped else "odoo_code"}
        data.update(
            self._mfg_mes_item_fields(backend, plant_code(backend, "product", self, self.default_code))
        )
        data["default_code"] = self.default_code or None
        return data


class ProductTemplate(models.Model):
    _inherit = "product.template"

    def write(self, vals):
        if not ITEM_FIELDS & set(vals):
            return super().write(vals)
        res = super(ProductTemplate, self.with_context(mfg_mes_no_publish=True)).write(vals)
        variants = self.with_context(active_test=False).product_variant_ids
        variants.with_env(self.env)._mfg_mes_publish_items()
        return res
