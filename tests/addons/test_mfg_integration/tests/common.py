import json

from odoo.addons.mfg_integration_base.tests.common import MfgPipelineCase as BasePipelineCase


class MfgPipelineCase(BasePipelineCase):
    """A backend with flows for test.order_report (inbound) and test.order_notice (outbound),
    a product known by its internal reference; payloads are received as test.order_report
    unless ``etype`` says otherwise."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Order = cls.env["mfg.test.order"]
        cls.etype_in = cls.env.ref("test_mfg_integration.exchange_type_order_report")
        cls.etype_out = cls.env.ref("test_mfg_integration.exchange_type_order_notice")
        cls.backend = cls._create_backend("Test plant MES", "test-plant")
        cls.product = cls.env["product.product"].create({"name": "Test widget", "default_code": "WID-1"})

    @classmethod
    def _create_backend(cls, name, code, exchange_types=None, company=None, **vals):
        """A backend with both test flows unless ``exchange_types`` says otherwise."""
        types = exchange_types if exchange_types is not None else cls.etype_in | cls.etype_out
        return super()._create_backend(name, code, types, company=company, **vals)

    def _payload(self, message_id, order="A", product="WID-1", quantity=1.0, **extra):
        data = {"message_id": message_id, "order": order, "product": product, "quantity": quantity}
        data.update(extra)
        return json.dumps(data)

    def _receive(self, *payloads, etype=None, **kw):
        """Receive raw payloads (one item each); return the result dicts of _mfg_receive."""
        return self._receive_results(etype or self.etype_in, *payloads, **kw)

    def _receive_one(self, payload, etype=None, **kw):
        """Receive one payload; return the stored mfg.message."""
        return super()._receive(etype or self.etype_in, payload, **kw)

    def _order(self, name):
        return self.Order.search([("name", "=", name)])
