from odoo.fields import Command

from odoo.addons.mfg_integration_base.tests.common import MfgPipelineCase


class MfgMesCase(MfgPipelineCase):
    """An MES backend with every MES flow on the company's warehouse; a finished product
    (lot-tracked) made of a lot-tracked component and a component in kg, with one operation
    on work center WC-1; a product in kg made from the kg component; stock of both components."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env, ref = cls.env, cls.env.ref
        cls.etype = {
            code: ref(f"mfg_mes_connector.exchange_type_{code}")
            for code in (
                "material_consumption",
                "production_completion",
                "production_progress",
                "scrap",
                "operation_status",
                "downtime",
                "work_order_release",
                "work_order_change",
                "item_master",
                "bom",
            )
        }
        cls.warehouse = env["stock.warehouse"].search([("company_id", "=", env.company.id)], limit=1)
        cls.stock = cls.warehouse.lot_stock_id
        cls.backend = cls._create_backend(
            "Test MES",
            "test-mes",
            cls.etype.values(),
            warehouse_id=cls.warehouse.id,
            http_url="http://mes.invalid/api",
        )
        cls.unit = ref("uom.product_uom_unit")
        cls.kg = ref("uom.product_uom_kgm")
        Product = env["product.product"]
        cls.finished = Product.create(
            {"name": "Pump", "default_code": "PUMP-1", "is_storable": True, "tracking": "lot"}
        )
        cls.comp_lot = Product.create(
            {"name": "Housing", "default_code": "HOUS-1", "is_storable": True, "tracking": "lot"}
        )
        cls.comp_kg = Product.create(
            {
                "name": "Resin",
                "default_code": "RES-1",
                "is_storable": True,
                "uom_id": cls.kg.id,
                "uom_po_id": cls.kg.id,
            }
        )
        cls.paste = Product.create(
            {
                "name": "Paste",
                "default_code": "PASTE-1",
                "is_storable": True,
                "uom_id": cls.kg.id,
                "uom_po_id": cls.kg.id,
            }
        )
        cls.lot_c1 = env["stock.lot"].create(
            {"name": "HL-1", "product_id": cls.comp_lot.id, "company_id": env.company.id}
        )
        Quant = env["stock.quant"]
        Quant._update_available_quantity(cls.comp_lot, cls.stock, 100, lot_id=cls.lot_c1)
        Quant._update_available_quantity(cls.comp_kg, cls.stock, 100)
        cls.workcenter = env["mrp.workcenter"].create({"name": "Assembly line", "code": "WC-1"})
        cls.bom = env["mrp.bom"].create(
            {
                "product_tmpl_id": cls.finished.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [
                    Command.create({"product_id": cls.comp_lot.id, "product_qty": 1}),
                    Command.create(
                        {"product_id": cls.comp_kg.id, "product_qty": 0.5, "product_uom_id": cls.kg.id}
                    ),
                ],
                "operation_ids": [
                    Command.create(
                        {
                            "name": "Assemble",
                            "workcenter_id": cls.workcenter.id,
                            "time_cycle_manual": 6,
                            "sequence": 10,
                        }
                    )
                ],
            }
        )
        cls.bom_paste = env["mrp.bom"].create(
            {
                "product_tmpl_id": cls.paste.product_tmpl_id.id,
                "product_qty": 1,
                "product_uom_id": cls.kg.id,
                "bom_line_ids": [
                    Command.create(
                        {"product_id": cls.comp_kg.id, "product_qty": 1, "product_uom_id": cls.kg.id}
                    ),
                ],
            }
        )
        loss_type = env["mrp.workcenter.productivity.loss.type"].search(
            [("loss_type", "=", "availability")], limit=1
        )
        cls.loss = env["mrp.workcenter.productivity.loss"].create(
            {"name": "Machine breakdown", "loss_id": loss_type.id}
        )
        cls.scrap_tag = env["stock.scrap.reason.tag"].create({"name": "Damaged in assembly"})
        Mapping = env["mfg.code.mapping"]
        Mapping.create(
            {
                "backend_id": cls.backend.id,
                "kind": "loss_reason",
                "external_code": "BRK",
                "target": f"{cls.loss._name},{cls.loss.id}",
            }
        )
        Mapping.create(
            {
                "backend_id": cls.backend.id,
                "kind": "scrap_reason",
                "external_code": "DMG",
                "target": f"{cls.scrap_tag._name},{cls.scrap_tag.id}",
            }
        )

    # ------------------------------------------------------------------ helpers
    def _mo(self, product=None, qty=10, bom=None, uom=None):
        product = product or self.finished
        mo = self.env["mrp.production"].create(
            {
                "product_id": product.id,
                "product_qty": qty,
                "product_uom_id": (uom or product.uom_id).id,
                "bom_id": (bom or self.bom).id,
                "picking_type_id": self.warehouse.manu_type_id.id,
            }
        )
        mo.action_confirm()
        return mo

    def _base(self, message_id, mo, **extra):
        return {
            "message_id": message_id,
            "sent_at": "2026-03-01T10:00:00Z",
            "work_order": mo.name if hasattr(mo, "name") else mo,
            **extra,
        }

    def _consumption(self, message_id, mo, *lines):
        return self._base(
            message_id,
            mo,
            lines=[dict(zip(("component", "quantity", "uom", "lot"), line, strict=False)) for line in lines],
        )

    def _completion(self, message_id, mo, quantity, uom="Units", lot="PL-1", final=True):
        data = self._base(message_id, mo, quantity=quantity, uom=uom, final=final)
        if lot:
            data["lot"] = lot
        return data
