from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo.fields import Command

from odoo.addons.mfg_integration_base.tests.common import MfgPipelineCase

T0 = datetime(2026, 3, 2, 8, 0, 0)


def at(minutes):
    """The frozen clock ``minutes`` after T0 (naive UTC, as Odoo stores it)."""
    return T0 + timedelta(minutes=minutes)


def rfc3339(minutes):
    return at(minutes).strftime("%Y-%m-%dT%H:%M:%SZ")


class MfgTraceCase(MfgPipelineCase):
    """A three-level genealogy built through the MES contracts (work orders released to the MES,
    consumption and completion messages received and drained), on a clock frozen step by step:

        raw lots R-1, R-2 (RAW-1, in stock 20 each)
        MO a: SUB-1 lot SA-1 (2 units) from 4 RAW-1 of R-1
        MO b: SUB-1 lot SA-2 (2 units) from 2 RAW-1 of R-1 and 2 of R-2
        MO c1: FIN-1 serial SN-1 from 1 SA-1;  MO c2: SN-2 from 1 SA-1;  MO c3: SN-3 from 1 SA-2
        delivery D1: SN-1 to Customer A;  delivery D2: SN-2 to Customer B;  SN-3 stays in stock

    plus a quality system backend (inspections, holds, releases, lot status webhook)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env, ref = cls.env, cls.env.ref
        mes_types = [
            ref(f"mfg_mes_connector.exchange_type_{code}")
            for code in ("work_order_release", "material_consumption", "production_completion")
        ]
        cls.warehouse = env["stock.warehouse"].search([("company_id", "=", env.company.id)], limit=1)
        cls.stock = cls.warehouse.lot_stock_id
        cls.customers = ref("stock.stock_location_customers")
        cls.backend = cls.mes = cls._create_backend(
            "Plant MES",
            "plant-mes",
            mes_types,
            warehouse_id=cls.warehouse.id,
            http_url="http://mes.invalid/api",
        )
        qms_types = [
            ref(f"mfg_quality_connector.exchange_type_{code}")
            for code in (
                "inspection_result",
                "nonconformance",
                "lot_hold",
                "lot_release",
                "lot_status_changed",
            )
        ]
        cls.qms = cls._create_backend(
            "Plant QMS",
            "plant-qms",
            qms_types,
            system_kind="quality",
            http_url="http://qms.invalid/hook",
            hmac_secret="s3cret",
        )
        Product = env["product.product"]
        cls.raw = Product.create(
            {"name": "Steel", "default_code": "RAW-1", "is_storable": True, "tracking": "lot"}
        )
        cls.sub = Product.create(
            {"name": "Housing", "default_code": "SUB-1", "is_storable": True, "tracking": "lot"}
        )
        cls.fin = Product.create(
            {"name": "Pump", "default_code": "FIN-1", "is_storable": True, "tracking": "serial"}
        )
        Bom = env["mrp.bom"]
        cls.bom_sub = Bom.create(
            {
                "product_tmpl_id": cls.sub.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [Command.create({"product_id": cls.raw.id, "product_qty": 2})],
            }
        )
        cls.bom_fin = Bom.create(
            {
                "product_tmpl_id": cls.fin.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [Command.create({"product_id": cls.sub.id, "product_qty": 1})],
            }
        )
        Lot = env["stock.lot"]
        cls.r1 = Lot.create({"name": "R-1", "product_id": cls.raw.id, "company_id": env.company.id})
        cls.r2 = Lot.create({"name": "R-2", "product_id": cls.raw.id, "company_id": env.company.id})
        Quant = env["stock.quant"]
        Quant._update_available_quantity(cls.raw, cls.stock, 20, lot_id=cls.r1)
        Quant._update_available_quantity(cls.raw, cls.stock, 20, lot_id=cls.r2)
        Partner = env["res.partner"]
        cls.customer_a = Partner.create({"name": "Customer A"})
        cls.customer_b = Partner.create({"name": "Customer B"})

        cls.mo_a = cls._make(0, cls.sub, cls.bom_sub, 2, [("RAW-1", 4, "R-1")], "SA-1")
        cls.mo_b = cls._make(1, cls.sub, cls.bom_sub, 2, [("RAW-1", 2, "R-1"), ("RAW-1", 2, "R-2")], "SA-2")
        cls.mo_c1 = cls._make(2, cls.fin, cls.bom_fin, 1, [("SUB-1", 1, "SA-1")], "SN-1")
        cls.mo_c2 = cls._make(3, cls.fin, cls.bom_fin, 1, [("SUB-1", 1, "SA-1")], "SN-2")
        cls.mo_c3 = cls._make(4, cls.fin, cls.bom_fin, 1, [("SUB-1", 1, "SA-2")], "SN-3")
        lot = {name: Lot.search([("name", "=", name)]) for name in ("SA-1", "SA-2", "SN-1", "SN-2", "SN-3")}
        cls.sa1, cls.sa2, cls.sn1, cls.sn2, cls.sn3 = (
            lot[n] for n in ("SA-1", "SA-2", "SN-1", "SN-2", "SN-3")
        )
        with freeze_time(at(50)):
            cls.d1 = cls._delivery(cls.sn1, cls.customer_a)
            cls.d1.button_validate()
        with freeze_time(at(51)):
            cls.d2 = cls._delivery(cls.sn2, cls.customer_b)
            cls.d2.button_validate()

    @classmethod
    def _make(cls, step, product, bom, qty, consumed, lot):
        """One MO through the MES: released at minute 10*step, consumption reported at +1,
        completion (final, lot or serial ``lot``) at +2."""
        with freeze_time(at(10 * step)):
            mo = cls.env["mrp.production"].create(
                {
                    "product_id": product.id,
                    "product_qty": qty,
                    "product_uom_id": product.uom_id.id,
                    "bom_id": bom.id,
                    "picking_type_id": cls.warehouse.manu_type_id.id,
                }
            )
            mo.action_confirm()
        lines = [
            {"component": code, "quantity": q, "uom": "Units", "lot": lot_name}
            for code, q, lot_name in consumed
        ]
        with freeze_time(at(10 * step + 1)):
            cls._receive_class(
                "mes.material_consumption",
                {
                    "message_id": f"c-{mo.name}",
                    "sent_at": rfc3339(10 * step + 1),
                    "work_order": mo.name,
                    "lines": lines,
                },
            )
            cls._drain_class()
        with freeze_time(at(10 * step + 2)):
            cls._receive_class(
                "mes.production_completion",
                {
                    "message_id": f"p-{mo.name}",
                    "sent_at": rfc3339(10 * step + 2),
                    "work_order": mo.name,
                    "quantity": qty,
                    "uom": "Units",
                    "lot": lot,
                    "final": True,
                },
            )
            cls._drain_class()
        assert (
            mo.state == "done"
        ), f"{mo.name} is {mo.state}: {cls.Message.search([], order='id desc', limit=1).error_message}"
        return mo

    @classmethod
    def _receive_class(cls, etype, payload, backend=None):
        import json

        results = cls.env["mfg.message"]._mfg_receive(
            backend or cls.mes,
            cls._exchange_type(etype),
            [{"payload": json.dumps(payload)}],
            transport="test",
        )
        return cls.env["mfg.message"].browse([r["id"] for r in results])

    @classmethod
    def _drain_class(cls, backend=None):
        cls.env.flush_all()
        (backend or cls.mes)._mfg_drain("inbound", "root.mfg")
        cls.env.invalidate_all()

    @classmethod
    def _delivery(cls, lot, partner, qty=1.0):
        """A delivery of ``qty`` of ``lot`` to ``partner``, picked and ready to validate."""
        product = lot.product_id
        picking = cls.env["stock.picking"].create(
            {
                "picking_type_id": cls.warehouse.out_type_id.id,
                "partner_id": partner.id,
                "location_id": cls.stock.id,
                "location_dest_id": cls.customers.id,
                "move_ids": [
                    Command.create(
                        {
                            "name": product.name,
                            "product_id": product.id,
                            "product_uom_qty": qty,
                            "product_uom": product.uom_id.id,
                            "location_id": cls.stock.id,
                            "location_dest_id": cls.customers.id,
                        }
                    )
                ],
            }
        )
        picking.action_confirm()
        move = picking.move_ids
        move.move_line_ids.unlink()
        cls.env["stock.move.line"].create(
            {
                "move_id": move.id,
                "picking_id": picking.id,
                "product_id": product.id,
                "lot_id": lot.id,
                "quantity": qty,
                "product_uom_id": product.uom_id.id,
                "location_id": cls.stock.id,
                "location_dest_id": cls.customers.id,
            }
        )
        move.picked = True
        return picking

    # ------------------------------------------------------------------ helpers
    def _shape(self, node):
        """A genealogy tree reduced to what the tests compare: (lot, order, quantity, children)
        with the root as (lot, children); shipments as (picking, customer, quantity)."""
        children = tuple(self._shape(child) for child in node["children"])
        if node["depth"] == 0:
            return (node["lot"], children)
        shape = (node["lot"], node["production"], node["quantity"], children)
        if node.get("shipments"):
            shape += (tuple((s["picking"], s["customer"], s["quantity"]) for s in node["shipments"]),)
        return shape
