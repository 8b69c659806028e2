"""Facts of the Sparkplug claim into the base's receive step (stored, idempotent, ordered by work
order), inside the claim's flush transaction. The contracts are found by code: this addon does
not import the MES or quality connector; without them the facts are kept as rejected messages
saying so."""

import base64
import json

from odoo import fields

from odoo.addons.mfg_integration_base.lib.dates import format_rfc3339


def running_production(env, backend, workcenter_code):
    """``(production, problem)``: the manufacturing order running on the work center of the plant
    code ``workcenter_code`` (its operation in progress, else an order in progress with an
    operation there), or why there is none."""
    workcenter = backend._mfg_resolve("workcenter", workcenter_code, required=False)
    if not workcenter:
        return None, env._(
            "Unknown work center code '%(code)s' for backend '%(backend)s': add a code mapping of kind "
            "'workcenter' or set the work center code on the metric map rule.",
            code=workcenter_code,
            backend=backend.code,
        )
    Workorder = env["mrp.workorder"]
    workorder = Workorder.search(
        [("workcenter_id", "=", workcenter.id), ("state", "=", "progress")],
        order="date_start desc, id desc",
        limit=1,
    )
    if not workorder:
        workorder = Workorder.search(
            [("workcenter_id", "=", workcenter.id), ("production_id.state", "=", "progress")],
            order="id",
            limit=1,
        )
    if not workorder:
        return None, env._(
            "No manufacturing order is running on work center %(wc)s (code '%(code)s'): start its operation "
            "in Odoo; this fact keeps its quantities and times for the record.",
            wc=workcenter.display_name,
            code=workcenter_code,
        )
    return workorder.production_id, None


def _inspected_lot(env, backend, production, payload):
    """A measurement (``qms.inspection_result``) is a result on the lot the running order
    produces: set its lot, product and origin in ``payload``; the problem when there is none (the
    contract needs an existing lot: a product alone is no valid result)."""
    payload.update({"lot": "", "product": ""})
    if not production:
        return None
    product = production.product_id
    payload["product"] = backend._mfg_code_for("product", product, product.default_code) or ""
    payload["origin"] = {"type": "production", "reference": production.name}
    lot = production.lot_producing_id
    if not lot:
        return env._(
            "Manufacturing order %(mo)s (product %(product)s) has no lot being produced: a quality "
            "measurement is a result on a lot. Set the order's lot; the values are kept in this message.",
            mo=production.name,
            product=product.display_name,
        )
    payload["lot"] = backend._mfg_code_for("lot", lot, lot.name)
    return None


def store_facts(env, backend, facts):
    """Store ``facts`` (lib/aggregate.py ``pending_facts``) as inbound messages of their contracts."""
    Type = env["mfg.exchange.type"].sudo()
    unroutable = env.ref("mfg_integration_base.exchange_type_unroutable").sudo()
    transport = env["mfg.transport.mqtt"].sudo()
    groups = {}
    productions = {}
    sent_at = format_rfc3339(fields.Datetime.now())
    for fact in facts:
        code = fact["workcenter"]
        if code not in productions:
            productions[code] = running_production(env, backend, code)
        production, problem = productions[code]
        payload = {"message_id": fact["external_id"], "sent_at": sent_at, **fact["payload"]}
        if fact["contract"] == "qms.inspection_result":
            problem = problem or _inspected_lot(env, backend, production, payload)
        else:
            payload["work_order"] = production.name if production else ""
        if fact["contract"] == "mes.scrap" and not payload.get("product") and production:
            payload["product"] = backend._mfg_code_for(
                "product", production.product_id, production.product_id.default_code
            )
        item = {
            "payload": json.dumps(payload),
            "external_id": fact["external_id"],
            "headers": {"source": "sparkplug", "workcenter": code},
        }
        if problem:
            item["reject_reason"] = problem
        groups.setdefault(fact["contract"], []).append(item)
    for contract, items in groups.items():
        etype = Type._find(contract)
        if etype and etype.direction == "inbound" and backend._mfg_flow(etype):
            transport._mfg_receive(backend, etype, items)
            continue
        reason = env._(
            "Sparkplug fact of contract %(contract)s: no inbound exchange type %(contract)s is enabled on "
            "backend %(backend)s (install the %(connector)s and add the flow), then replay.",
            contract=contract,
            backend=backend.code,
            connector=env._("quality connector") if contract.startswith("qms.") else env._("MES connector"),
        )
        for item in items:
            item["external_id"] = None
        transport._mfg_receive(backend, unroutable, items, check_flow=False, reject_reason=reason)


def store_malformed(env, backend, malformed):
    """Payloads that are no Sparkplug B: kept, rejected, saying why. The payload is a JSON
    envelope (topic, error, the raw bytes in base64) so that the reason is the message's error."""
    if not malformed:
        return
    unroutable = env.ref("mfg_integration_base.exchange_type_unroutable").sudo()
    items = [
        {
            "payload": json.dumps(
                {"topic": topic[:1000], "error": error, "payload_base64": base64.b64encode(raw).decode()}
            ),
            "headers": {"topic": topic[:1000], "source": "sparkplug"},
            "reject_reason": env._(
                "Sparkplug B message on %(topic)s not read: %(error)s", topic=topic[:200], error=error
            ),
        }
        for topic, raw, error in malformed
    ]
    env["mfg.transport.mqtt"].sudo()._mfg_receive(backend, unroutable, items, check_flow=False)
