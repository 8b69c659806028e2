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


if "mfg.backend" in env:
    print("demo:", demo_plant(env))
    if "mrp.production" in env and hasattr(env["mrp.production"], "_mfg_mes_release"):
        print("demo:", mes_demo(env))
else:
    print("demo: no demo plant to load yet (mfg.backend is not installed)")
env.cr.commit()
