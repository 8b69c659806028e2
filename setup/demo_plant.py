# Run by setup/run inside `odoo shell`: creates or refreshes the demo plant (a backend
# and its exchange types) so the screens are not empty. Idempotent.
# With the MES connector installed it also makes the plant playable by bench/plant_sim.py
# (setup/run --sim): work order releases go out over MQTT, and a demo product with a bill of
# materials, an operation and components in stock is ready to be manufactured.
# `env` is provided by odoo shell.
# ruff: noqa: F821


def mes_demo(env):
    """The release flow of plant1-mes on MQTT, and DEMO-PUMP (lot-tracked) made of DEMO-HOUSING
    (lot-tracked, lot DEMO-HL-1 in stock) and DEMO-RESIN (kg, in stock) on work center DEMO-WC."""
    from odoo.fields import Command

    backend = env["mfg.backend"].search([("code", "=", "plant1-mes")], limit=1)
    release = env.ref("mfg_mes_connector.exchange_type_work_order_release", raise_if_not_found=False)
    if not backend or not release:
        return "no MES release flow to set up"
    flow = backend._mfg_flow(release)
    if flow and flow.transport != "mqtt":
        flow.transport = "mqtt"
    warehouse = backend.warehouse_id or env["stock.warehouse"].search([], limit=1)
    Product = env["product.product"]
    if Product.search([("default_code", "=", "DEMO-PUMP")], limit=1):
        return f"releases of {backend.code} on {backend.mqtt_outbound_topic}; DEMO-PUMP ready"
    kg = env.ref("uom.product_uom_kgm")
    pump = Product.create(
        {"name": "Demo pump", "default_code": "DEMO-PUMP", "is_storable": True, "tracking": "lot"}
    )
    housing = Product.create(
        {"name": "Demo pump housing", "default_code": "DEMO-HOUSING", "is_storable": True, "tracking": "lot"}
    )
    resin = Product.create(
        {
            "name": "Demo resin",
            "default_code": "DEMO-RESIN",
            "is_storable": True,
            "uom_id": kg.id,
            "uom_po_id": kg.id,
        }
    )
    lot = env["stock.lot"].create(
        {"name": "DEMO-HL-1", "product_id": housing.id, "company_id": warehouse.company_id.id}
    )
    Quant = env["stock.quant"]
    Quant._update_available_quantity(housing, warehouse.lot_stock_id, 500, lot_id=lot)
    Quant._update_available_quantity(resin, warehouse.lot_stock_id, 500)
    workcenter = env["mrp.workcenter"].search([("code", "=", "DEMO-WC")], limit=1) or env[
        "mrp.workcenter"
    ].create({"name": "Demo assembly line", "code": "DEMO-WC"})
    env["mrp.bom"].create(
        {
            "product_tmpl_id": pump.product_tmpl_id.id,
            "product_qty": 1,
            "bom_line_ids": [
                Command.create({"product_id": housing.id, "product_qty": 1}),
                Command.create({"product_id": resin.id, "product_qty": 0.5, "product_uom_id": kg.id}),
            ],
            "operation_ids": [
                Command.create({"name": "Assemble", "workcenter_id": workcenter.id, "time_cycle_manual": 6})
            ],
        }
    )
    return f"releases of {backend.code} on {backend.mqtt_outbound_topic}; DEMO-PUMP created"


if "mfg.backend" in env:
    print("demo:", env["mfg.backend"]._mfg_load_demo_plant())
    if "mrp.production" in env and hasattr(env["mrp.production"], "_mfg_mes_release"):
        print("demo:", mes_demo(env))
else:
    print("demo: no demo plant to load yet (mfg.backend is not installed)")
env.cr.commit()
