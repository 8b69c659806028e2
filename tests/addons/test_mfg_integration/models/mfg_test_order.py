import psycopg2.errors

from odoo import fields, models
from odoo.exceptions import UserError

from odoo.addons.mfg_integration_base.exceptions import MfgTransientError

CONFLICTED = set()  # message ids that raised their "conflict_once" failure


class MfgTestOrder(models.Model):
    """A stand-in business document for the pipeline tests: an order reported by a plant.

    Handler of ``test.order_report``: creates or updates the order named in the payload,
    resolves its product through the backend's code mappings, and appends the step to
    ``history`` so the tests can see in which order messages were applied.
    ``_mfg_handle_order_report_batched`` does the same and has a batch variant
    (``_mfg_batch_order_report_batched``) that records, on each order, the size of the batch.
    Payload switches: ``"fail": "transient"`` raises a transient error; ``"fail": "business"``
    a business error; ``"fail": "crash"`` an unexpected exception; ``"fail": "conflict_once"`` a
    PostgreSQL serialization failure (a concurrent update) the first time a message is applied
    in this process (``CONFLICTED`` remembers it), then nothing. ``"wait_lock": K`` waits, before
    applying, until nobody holds the PostgreSQL advisory lock K exclusively: a test holds K to keep
    drains in the middle of their claims (a gate), and lets them go by releasing it.
    """

    _name = "mfg.test.order"
    _description = "Test order (pipeline tests)"
    _inherit = ["mfg.handler.mixin"]

    name = fields.Char(required=True, index=True)
    product_id = fields.Many2one("product.product")
    quantity = fields.Float()
    history = fields.Char(default="")
    applied_count = fields.Integer()
    batch_size = fields.Integer(help="Messages of the batch handler call that applied it last (0: alone).")

    def _mfg_handle_order_report(self, message, data):
        if data.get("wait_lock") is not None:
            self.env.cr.execute("SELECT pg_advisory_xact_lock_shared(%s)", (data["wait_lock"],))
        fail = data.get("fail")
        if fail == "transient":
            raise MfgTransientError(f"MES endpoint busy for order {data['order']}")
        if fail == "business":
            raise UserError(f"Order {data['order']} is closed in Odoo: it cannot take more quantity.")
        if fail == "crash":
            raise ZeroDivisionError("division by zero")
        if fail == "conflict_once" and message.id not in CONFLICTED:
            CONFLICTED.add(message.id)
            raise psycopg2.errors.SerializationFailure("could not serialize access due to concurrent update")
        product = message.backend_id._mfg_resolve("product", data["product"])
        order = self.search([("name", "=", data["order"])], limit=1)
        if not order:
            order = self.create({"name": data["order"]})
        step = data.get("step", "")
        order.write(
            {
                "product_id": product.id,
                "quantity": order.quantity + data["quantity"],
                "history": ",".join(filter(None, [order.history, step])),
                "applied_count": order.applied_count + 1,
            }
        )
        return order

    def _mfg_handle_order_report_batched(self, message, data):
        order = self._mfg_handle_order_report(message, data)
        order.batch_size = 0
        return order

    def _mfg_batch_order_report_batched(self, items):
        orders = [self._mfg_handle_order_report(message, data) for message, data in items]
        self.concat(*orders).write({"batch_size": len(items)})
        return orders
