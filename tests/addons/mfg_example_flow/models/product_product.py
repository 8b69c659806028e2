from operator import itemgetter

from odoo import models

REQUEST_TYPE = "example.weighing_request"


class ProductProduct(models.Model):
    _inherit = "product.product"

    def action_mfg_example_request_weighing(self):
        """Ask the plant systems of the product's company to weigh these products: one
        example.weighing_request per product and backend with a flow of it (the outbound exchange type)."""
        Outbox = self.env["mfg.outbox"]
        messages = self.env["mfg.message"].sudo()
        for product in self:
            company = product.company_id or self.env.company
            messages |= Outbox._mfg_put(
                Outbox._mfg_backends(REQUEST_TYPE, [("company_id", "=", company.id)]),
                REQUEST_TYPE,
                product._mfg_example_weighing_payload,
                ordering_key=itemgetter("product"),
                record=product,
            )
        return messages

    def _mfg_example_weighing_payload(self, backend):
        """example.weighing_request.v1 for ``backend`` (its product code, if it has a mapping)."""
        self.ensure_one()
        data = self.env["mfg.outbox"]._mfg_envelope(f"weigh-{self.id}")
        data.update(
            {
                "product": backend._mfg_code_for("product", self, self.default_code or str(self.id)),
                "name": self.name,
                "weight_kg": self.weight or None,
            }
        )
        return data
