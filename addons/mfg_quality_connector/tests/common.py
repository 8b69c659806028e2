from odoo.fields import Command

from odoo.addons.mfg_integration_base.tests.common import MfgPipelineCase


class MfgQualityCase(MfgPipelineCase):
    """A quality backend with the four qms flows and the lot status webhook, a lot-tracked
    product with lots L-100 and L-200 in stock, and helpers to feed and drain the pipeline."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        ref = cls.env.ref
        cls.etype_inspection = ref("mfg_quality_connector.exchange_type_inspection_result")
        cls.etype_nc = ref("mfg_quality_connector.exchange_type_nonconformance")
        cls.etype_hold = ref("mfg_quality_connector.exchange_type_lot_hold")
        cls.etype_release = ref("mfg_quality_connector.exchange_type_lot_release")
        cls.etype_status = ref("mfg_quality_connector.exchange_type_lot_status_changed")
        cls.etype_request = ref("mfg_quality_connector.exchange_type_inspection_request")
        cls.backend = cls._create_backend(
            "Test QMS",
            "test-qms",
            cls.etype_inspection
            | cls.etype_nc
            | cls.etype_hold
            | cls.etype_release
            | cls.etype_status
            | cls.etype_request,
            system_kind="quality",
            http_url="http://qms.invalid/hook",
            hmac_secret="s3cret",
        )
        cls.warehouse = cls.env["stock.warehouse"].search([("company_id", "=", cls.env.company.id)], limit=1)
        cls.stock = cls.warehouse.lot_stock_id
        cls.customers = cls.env.ref("stock.stock_location_customers")
        cls.product = cls.env["product.product"].create(
            {"name": "Resin", "default_code": "RES-1", "is_storable": True, "tracking": "lot"}
        )
        Lot = cls.env["stock.lot"]
        cls.lot = Lot.create(
            {"name": "L-100", "product_id": cls.product.id, "company_id": cls.env.company.id}
        )
        cls.lot2 = Lot.create(
            {"name": "L-200", "product_id": cls.product.id, "company_id": cls.env.company.id}
        )
        Quant = cls.env["stock.quant"]
        Quant._update_available_quantity(cls.product, cls.stock, 10, lot_id=cls.lot)
        Quant._update_available_quantity(cls.product, cls.stock, 10, lot_id=cls.lot2)

    # ------------------------------------------------------------------ pipeline helpers
    def _inspection(self, message_id, verdict="fail", lot="L-100", at="2026-03-01T10:00:00Z", **extra):
        data = {
            "message_id": message_id,
            "inspection_id": f"INSP-{message_id}",
            "lot": lot,
            "product": "RES-1",
            "evaluated_at": at,
            "verdict": verdict,
            "inspector": "Q. Inspector",
            "test_specification": "TS-RESIN-01",
            "characteristics": [
                {
                    "characteristic": "viscosity",
                    "value": 512.5,
                    "unit": "mPa.s",
                    "lower_limit": 400,
                    "upper_limit": 500,
                    "result": "fail" if verdict == "fail" else "pass",
                },
                {"characteristic": "colour", "value": "clear", "result": "pass"},
            ],
        }
        data.update(extra)
        return data

    def _lot_event(self, message_id, at, lot, reason, **extra):
        """A lot_hold / lot_release payload."""
        return {
            "message_id": message_id,
            "lot": lot,
            "product": "RES-1",
            "event_at": at,
            "reason": reason,
            **extra,
        }

    def _hold(self, message_id, at, lot="L-100", **extra):
        return self._lot_event(message_id, at, lot, **{"reason": "Suspect batch", **extra})

    def _release(self, message_id, at, lot="L-100", **extra):
        return self._lot_event(message_id, at, lot, **{"reason": "Retest passed", **extra})

    def _status_messages(self):
        return self.Message.search(
            [("backend_id", "=", self.backend.id), ("exchange_type_id", "=", self.etype_status.id)],
            order="id",
        )

    # ------------------------------------------------------------------ stock helpers
    def _delivery(self, lot, qty=1.0):
        """A confirmed delivery of ``qty`` of ``lot`` from stock, picked and ready to validate."""
        product = lot.product_id
        picking = self.env["stock.picking"].create(
            {
                "picking_type_id": self.warehouse.out_type_id.id,
                "location_id": self.stock.id,
                "location_dest_id": self.customers.id,
                "move_ids": [
                    Command.create(
                        {
                            "name": product.name,
                            "product_id": product.id,
                            "product_uom_qty": qty,
                            "product_uom": product.uom_id.id,
                            "location_id": self.stock.id,
                            "location_dest_id": self.customers.id,
                        }
                    )
                ],
            }
        )
        picking.action_confirm()
        move = picking.move_ids
        move.move_line_ids.unlink()
        self.env["stock.move.line"].create(
            {
                "move_id": move.id,
                "picking_id": picking.id,
                "product_id": product.id,
                "lot_id": lot.id,
                "quantity": qty,
                "product_uom_id": product.uom_id.id,
                "location_id": self.stock.id,
                "location_dest_id": self.customers.id,
            }
        )
        move.picked = True
        return picking
