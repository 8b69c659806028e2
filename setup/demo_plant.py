# Run by setup/run inside `odoo shell`: creates or refreshes the demo plant so the screens are
# not empty. Idempotent.
# The plant is demo data (mfg_integration_base/demo/mfg_demo_plant.xml: the backend plant1-mes on
# the local MQTT broker; each connector's demo/ folder: the flows of its exchange types). setup/run's
# databases have Odoo's demo data off (`without_demo`: no demo products of stock and mrp), so the
# demo files of our addons are loaded here, as Odoo loads demo data: records that exist are kept.
# Then a few heartbeats go through the pipeline, so that there are messages to look at.
# With the MES connector installed it also makes the plant playable by bench/plant_sim.py
# (setup/run --sim): work order releases go out over MQTT, and a demo product with a bill of
# materials, an operation and components in stock is ready to be manufactured.
# MFG_RUN_WIRE=b2mml (setup/run): the demo MES speaks B2MML (release flow in wire format B2MML,
# a b2mml.document inbound flow); json (default): the canonical JSON contracts.
# `env` is provided by odoo shell.
# ruff: noqa: F821
import json
import os

DEMO_BACKEND = "mfg_integration_base.demo_backend_plant1_mes"


def demo_addons(env):
    """Our installed addons with demo files, the base first (the others add to its plant)."""
    from odoo.modules.module import get_manifest

    names = (
        env["ir.module.module"]
        .search([("state", "=", "installed"), ("name", "=like", "mfg_%")])
        .mapped("name")
    )
    names = sorted(names, key=lambda name: (name != "mfg_integration_base", name))
    return [(name, get_manifest(name).get("demo", [])) for name in names if get_manifest(name).get("demo")]


def adopt_old_demo_plant(env):
    """A database made before the plant was data (by mfg.backend._mfg_load_demo_plant): give its
    backend and flows the xml ids of the data, so that loading the data finds them."""
    if env.ref(DEMO_BACKEND, raise_if_not_found=False):
        return
    backend = (
        env["mfg.backend"].with_context(active_test=False).search([("code", "=", "plant1-mes")], limit=1)
    )
    if not backend:
        return
    rows = [("mfg_integration_base", "demo_backend_plant1_mes", backend)]
    type_xmlids = backend.flow_ids.exchange_type_id.get_external_id()
    for flow in backend.flow_ids:
        module, _dot, name = type_xmlids.get(flow.exchange_type_id.id, "").partition(".")
        if name.startswith("exchange_type_"):
            rows.append((module, "demo_flow_" + name.removeprefix("exchange_type_"), flow))
    Data = env["ir.model.data"]
    Data.create(
        [
            {"module": module, "name": name, "model": record._name, "res_id": record.id, "noupdate": True}
            for module, name, record in rows
            if not Data.search_count([("module", "=", module), ("name", "=", name)])
        ]
    )


def load_demo_plant(env):
    """The demo files of our addons; a backend created now gets this setup's MQTT broker."""
    from odoo.tools import convert_file

    from odoo.addons.mfg_integration_base.lib import settings

    adopt_old_demo_plant(env)
    fresh = not env.ref(DEMO_BACKEND, raise_if_not_found=False)
    for module, filenames in demo_addons(env):
        for filename in filenames:
            convert_file(env, module, filename, {}, mode="update", noupdate=True, kind="demo")
    backend = env.ref(DEMO_BACKEND)
    if fresh:
        backend.write(
            {
                "mqtt_host": settings.get_str("mqtt_host", "127.0.0.1"),
                "mqtt_port": settings.get_int("mqtt_port", 1883),
            }
        )
    return backend


def receive_sample_heartbeats(backend):
    """Three heartbeats received and drained through the pipeline: running, degraded, and one its
    contract rejects. Only while the backend has no message."""
    from odoo import fields

    env = backend.env
    Message = env["mfg.message"]
    if Message.search_count([("backend_id", "=", backend.id)]):
        return
    heartbeat = env.ref("mfg_integration_base.exchange_type_plant_heartbeat")
    now = fields.Datetime.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    samples = [
        {"message_id": "demo-hb-1", "sent_at": now, "status": "running"},
        {"message_id": "demo-hb-2", "sent_at": now, "status": "degraded", "detail": "Line 2 paused"},
        {"message_id": "demo-hb-3", "sent_at": "yesterday", "status": "on fire"},
    ]
    Message._mfg_receive(backend, heartbeat, [{"payload": json.dumps(p)} for p in samples], transport="demo")
    backend.with_context(mfg_single_transaction=True)._mfg_drain("inbound", heartbeat.channel)


def demo_plant(env):
    backend = load_demo_plant(env)
    receive_sample_heartbeats(backend)
    count = env["mfg.message"].search_count([("backend_id", "=", backend.id)])
    return (
        f"backend {backend.code} with {len(backend.flow_ids)} flow(s); "
        f"MQTT topics {backend.mqtt_inbound_topic}; {count} message(s)"
    )


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
    wire_note = demo_wire(env, backend, flow)
    warehouse = backend.warehouse_id or env["stock.warehouse"].search([], limit=1)
    Product = env["product.product"]
    if Product.search([("default_code", "=", "DEMO-PUMP")], limit=1):
        return f"releases of {backend.code} on {backend.mqtt_outbound_topic}{wire_note}; DEMO-PUMP ready"
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
    return f"releases of {backend.code} on {backend.mqtt_outbound_topic}{wire_note}; DEMO-PUMP created"


def demo_wire(env, backend, release_flow):
    """The wire format the demo MES speaks (MFG_RUN_WIRE): the release and change flows', and for
    B2MML the inbound flow of B2MML documents. Returns a note for the log."""
    wire = os.environ.get("MFG_RUN_WIRE") or "json"
    change = env.ref("mfg_mes_connector.exchange_type_work_order_change", raise_if_not_found=False)
    outbound = release_flow | (backend._mfg_flow(change) if change else release_flow.browse())
    if wire == "json" or not release_flow:
        outbound.filtered(lambda f: f.wire_format != "json").write({"wire_format": "json"})
        return ""
    document = env.ref("mfg_b2mml.exchange_type_b2mml_document", raise_if_not_found=False)
    if not document:
        return " (MFG_RUN_WIRE=b2mml: mfg_b2mml is not installed, JSON kept)"
    outbound.write({"wire_format": "b2mml"})
    backend.b2mml_validate_outbound = True
    doc_flow = backend.with_context(active_test=False).flow_ids.filtered(
        lambda f: f.exchange_type_id == document
    )
    if doc_flow:
        doc_flow.write({"active": True, "wire_format": "b2mml"})
    else:
        env["mfg.backend.flow"].create(
            {"backend_id": backend.id, "exchange_type_id": document.id, "wire_format": "b2mml"}
        )
    return " in B2MML (OperationsSchedule out, b2mml.document in)"


def _mes_message(backend, code, payload):
    """One message of the MES received and drained through the pipeline, as if sent by the plant."""
    env = backend.env
    etype = env.ref(f"mfg_mes_connector.exchange_type_{code}")
    env["mfg.message"]._mfg_receive(backend, etype, [{"payload": json.dumps(payload)}], transport="demo")
    env.flush_all()
    backend.with_context(mfg_single_transaction=True)._mfg_drain("inbound", etype.channel)
    env.invalidate_all()


def _made_by_the_mes(backend, product, qty, consumed, lot_name):
    """A manufacturing order of ``product`` confirmed (released to the MES), then its consumption
    (``consumed``: (component code, quantity, uom, lot or None)) and its final completion as lot
    ``lot_name`` reported by the MES, as the plant does it."""
    from odoo import fields

    env = backend.env
    warehouse = backend.warehouse_id or env["stock.warehouse"].search([], limit=1)
    mo = env["mrp.production"].create(
        {"product_id": product.id, "product_qty": qty, "picking_type_id": warehouse.manu_type_id.id}
    )
    mo.action_confirm()
    now = fields.Datetime.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        {"component": code, "quantity": q, "uom": uom, **({"lot": lot} if lot else {})}
        for code, q, uom, lot in consumed
    ]
    _mes_message(
        backend,
        "material_consumption",
        {"message_id": f"demo-c-{mo.name}", "sent_at": now, "work_order": mo.name, "lines": lines},
    )
    _mes_message(
        backend,
        "production_completion",
        {
            "message_id": f"demo-p-{mo.name}",
            "sent_at": now,
            "work_order": mo.name,
            "quantity": qty,
            "uom": "Units",
            "lot": lot_name,
            "final": True,
        },
    )
    if mo.state != "done":
        last = env["mfg.message"].search([("backend_id", "=", backend.id)], order="id desc", limit=1)
        raise RuntimeError(f"demo genealogy: {mo.name} is {mo.state}: {last.error_message}")
    return mo


def traceability_demo(env):
    """A small genealogy for the Traceability screens, built through the MES contracts: steel lot
    DEMO-ST-1 → housing lot DEMO-HL-2 (order of 2) → pump lots DEMO-P-1 and DEMO-P-2 (one order
    each); DEMO-P-1 delivered to Demo Customer. Once."""
    from odoo.fields import Command

    Lot = env["stock.lot"]
    if Lot.search([("name", "=", "DEMO-P-1")], limit=1):
        return "genealogy DEMO-ST-1 → DEMO-HL-2 → DEMO-P-1, DEMO-P-2 ready"
    backend = env["mfg.backend"].search([("code", "=", "plant1-mes")], limit=1)
    Product = env["product.product"]
    pump = Product.search([("default_code", "=", "DEMO-PUMP")], limit=1)
    housing = Product.search([("default_code", "=", "DEMO-HOUSING")], limit=1)
    if not (backend and pump and housing):
        return "no demo plant to trace"
    warehouse = backend.warehouse_id or env["stock.warehouse"].search([], limit=1)
    steel = Product.search([("default_code", "=", "DEMO-STEEL")], limit=1) or Product.create(
        {"name": "Demo steel blank", "default_code": "DEMO-STEEL", "is_storable": True, "tracking": "lot"}
    )
    steel_lot = Lot.create(
        {"name": "DEMO-ST-1", "product_id": steel.id, "company_id": warehouse.company_id.id}
    )
    env["stock.quant"]._update_available_quantity(steel, warehouse.lot_stock_id, 100, lot_id=steel_lot)
    if not env["mrp.bom"].search([("product_tmpl_id", "=", housing.product_tmpl_id.id)], limit=1):
        env["mrp.bom"].create(
            {
                "product_tmpl_id": housing.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [Command.create({"product_id": steel.id, "product_qty": 2})],
            }
        )
    _made_by_the_mes(backend, housing, 2, [("DEMO-STEEL", 4, "Units", "DEMO-ST-1")], "DEMO-HL-2")
    for name in ("DEMO-P-1", "DEMO-P-2"):
        _made_by_the_mes(
            backend,
            pump,
            1,
            [("DEMO-HOUSING", 1, "Units", "DEMO-HL-2"), ("DEMO-RESIN", 0.5, "kg", None)],
            name,
        )
    customer = env["res.partner"].search([("name", "=", "Demo Customer")], limit=1) or env[
        "res.partner"
    ].create({"name": "Demo Customer"})
    customers = env.ref("stock.stock_location_customers")
    delivery = env["stock.picking"].create(
        {
            "picking_type_id": warehouse.out_type_id.id,
            "partner_id": customer.id,
            "location_id": warehouse.lot_stock_id.id,
            "location_dest_id": customers.id,
            "move_ids": [
                Command.create(
                    {
                        "name": pump.name,
                        "product_id": pump.id,
                        "product_uom_qty": 1,
                        "product_uom": pump.uom_id.id,
                        "location_id": warehouse.lot_stock_id.id,
                        "location_dest_id": customers.id,
                    }
                )
            ],
        }
    )
    delivery.action_confirm()
    move = delivery.move_ids
    move.move_line_ids.unlink()
    env["stock.move.line"].create(
        {
            "move_id": move.id,
            "picking_id": delivery.id,
            "product_id": pump.id,
            "lot_id": Lot.search([("name", "=", "DEMO-P-1")], limit=1).id,
            "quantity": 1,
            "product_uom_id": pump.uom_id.id,
            "location_id": warehouse.lot_stock_id.id,
            "location_dest_id": customers.id,
        }
    )
    move.picked = True
    delivery.button_validate()
    return f"genealogy DEMO-ST-1 → DEMO-HL-2 → DEMO-P-1 (shipped in {delivery.name}), DEMO-P-2 created"


if "mfg.backend" in env:
    print("demo:", demo_plant(env))
    if "mrp.production" in env and hasattr(env["mrp.production"], "_mfg_mes_release"):
        print("demo:", mes_demo(env))
    if "mfg.genealogy" in env and "mrp.production" in env:
        print("demo:", traceability_demo(env))
else:
    print("demo: no demo plant to load yet (mfg.backend is not installed)")
env.cr.commit()
