"""MES facts to done: manufacturing orders driven over MQTT vs. a naive XML-RPC integration.

    ~/.cache/mfg-hub/venv/bin/python bench/mes_facts.py [--mos N] [--keep-db]

Self-contained, everything on 127.0.0.1, bounded in time; reuses bench/mqtt_ingest.py's helpers.

1. Throwaway database ``mfg_bench_mes_<pid>`` with ``mfg_mes_connector``; kg rounding 0.001 and the
   'Product Unit of Measure' precision 3 (so that grams are exact in kg); a private Mosquitto.
2. One ``odoo shell`` builds, per path, its own warehouse, products, lot, stock, work center, BoM and
   N confirmed manufacturing orders of 2 units of a lot-tracked product made of a lot-tracked
   housing (1 per unit) and a resin in kg (0.5 kg per unit). Each path starts from the same stock.
3. Per MO, 5 facts: operation started, housing consumed (2 Units, lot HL), resin consumed
   (1005 g), 1 housing scrapped (lot HL), completion (2 Units, lot F-<i>, final).
   - naive: one XML-RPC call per Odoo method (API key; the record ids are given to it, it searches
     nothing): button_start; stock.move write quantity/picked (×2); stock.scrap create +
     action_validate; stock.lot create; write lot_producing_id; button_mark_done. 1 and 4 clients.
   - ours: the facts published (QoS 1) on the backend's topics, one listener (``odoo mfg_mqtt``),
     processed by queue_job drains in Odoo (workers = 2, channels root:2): first publish -> every
     message ``done``.
   - in-process ceiling: the same handlers (``mfg.exchange.type._mfg_handler()``) called in a loop
     in one ``odoo shell`` (Odoo server stopped), 100 calls per commit, without the pipeline
     (no receive, no claim, no schema, no outcome), without and with a savepoint per message; and
     the batch handlers (``_mfg_batch_handler()``) called per wave as a drain does, a savepoint each.
   - with ``--wire b2mml``, ours B2MML: the same facts, consumption / scrap / completion published as
     B2MML V0700 SyncOperationsPerformance documents (``plant_b2mml.py``, one per fact) on the
     backend's ``b2mml.document`` flow (wire format B2MML: each document stored, decoded by a drain
     into its fact, the fact applied), the operation status as JSON; first publish -> every
     document and fact ``done``. Needs ``mfg_b2mml`` (installed with it).
4. Checks that every path ends with the same stock quants (per product role, location, lot) and
   every MO done; prints one table; drops the database and stops what it started.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import plant_b2mml
from bench_support import odoo_shell
from mqtt_ingest import (
    ODOO_BIN,
    Budget,
    Poller,
    Rpc,
    Sql,
    drop_db,
    interrupted,
    log,
    make_api_key,
    start_server,
    wait_for_text,
    write_conf,
)
from mqtt_support import Broker, ListenerProcess, Publisher
from odoo_process import OdooServer, free_port

FACTS_PER_MO = 5
TARGET_FACTOR = 3  # MES facts to done >= 3x the naive integration (issue 15)
# path key -> (warehouse code letter, label)
PATHS = {
    "naive1": "N",
    "naive4": "M",
    "ours": "Q",
    "ceil": "C",
    "ceil_sp": "S",
    "ceil_b": "B",
}
MES_CODES = ("operation_status", "material_consumption", "scrap", "production_completion")
B2MML_PATH = "ours_b2mml"  # added by --wire b2mml

SETUP_SCRIPT = r"""
import json, os
from odoo.fields import Command
P = json.load(open(os.environ["BENCH_PARAMS"]))
n = P["n"]
env["decimal.precision"].search([("name", "=", "Product Unit of Measure")]).digits = 3
kg = env.ref("uom.product_uom_kgm")
kg.rounding = 0.001
unit = env.ref("uom.product_uom_unit")
company = env.company
types = {c: env.ref(f"mfg_mes_connector.exchange_type_{c}") for c in P["mes_codes"]}
out = {}
for path, code in P["paths"].items():
    wh = env["stock.warehouse"].create({"name": f"MES bench {code}", "code": code, "company_id": company.id})
    Product = env["product.product"]
    fin = Product.create({"name": f"Pump {code}", "default_code": f"FIN-{code}", "is_storable": True,
                          "tracking": "lot"})
    hou = Product.create({"name": f"Housing {code}", "default_code": f"HOU-{code}", "is_storable": True,
                          "tracking": "lot"})
    res = Product.create({"name": f"Resin {code}", "default_code": f"RES-{code}", "is_storable": True,
                          "uom_id": kg.id, "uom_po_id": kg.id})
    lot = env["stock.lot"].create({"name": "HL", "product_id": hou.id, "company_id": company.id})
    Quant = env["stock.quant"]
    Quant._update_available_quantity(hou, wh.lot_stock_id, 4 * n, lot_id=lot)
    Quant._update_available_quantity(res, wh.lot_stock_id, 2 * n)
    wc = env["mrp.workcenter"].create({"name": f"Line {code}", "code": f"WC-{code}"})
    bom = env["mrp.bom"].create({
        "product_tmpl_id": fin.product_tmpl_id.id, "product_qty": 1,
        "bom_line_ids": [Command.create({"product_id": hou.id, "product_qty": 1}),
                         Command.create({"product_id": res.id, "product_qty": 0.5, "product_uom_id": kg.id})],
        "operation_ids": [Command.create({"name": "Assemble", "workcenter_id": wc.id, "time_cycle_manual": 6})],
    })
    mos = env["mrp.production"].create([
        {"product_id": fin.id, "product_qty": 2, "bom_id": bom.id, "picking_type_id": wh.manu_type_id.id}
        for _i in range(n)
    ])
    mos.action_confirm()
    info = {"code": code, "warehouse_id": wh.id, "fin": fin.id, "hou": hou.id, "res": res.id, "lot": lot.id,
            "unit": unit.id, "company_id": company.id, "products": [fin.id, hou.id, res.id], "mos": []}
    for mo in mos.sorted("id"):
        assert mo.state == "confirmed", (mo.name, mo.state)
        info["mos"].append({
            "id": mo.id, "name": mo.name, "wo": mo.workorder_ids.id,
            "mv_h": mo.move_raw_ids.filtered(lambda m: m.product_id == hou).id,
            "mv_r": mo.move_raw_ids.filtered(lambda m: m.product_id == res).id,
        })
    if path in ("ours", "ceil", "ceil_sp", "ceil_b", "ours_b2mml"):
        flows = [Command.create({"exchange_type_id": t.id}) for t in types.values()]
        if path == "ours_b2mml":
            flows.append(Command.create({"exchange_type_id": env.ref("mfg_b2mml.exchange_type_b2mml_document").id,
                                         "wire_format": "b2mml"}))
        backend = env["mfg.backend"].create({
            "name": f"MES bench {code}", "code": f"mesbench-{code.lower()}", "plant_code": f"P{code}",
            "system_kind": "mes", "warehouse_id": wh.id, "mqtt_enabled": False, "mqtt_host": "127.0.0.1",
            "mqtt_port": P["broker_port"], "flow_ids": flows,
        })
        info["backend_id"] = backend.id
        info["inbound_topic"] = backend.mqtt_inbound_topic
    out[path] = info
env.cr.commit()
with open(os.environ["BENCH_OUT"], "w") as f:
    json.dump(out, f)
"""

CEILING_SCRIPT = r"""
import json, os, time
from types import SimpleNamespace
P = json.load(open(os.environ["BENCH_PARAMS"]))
types = {t.code: t for t in env["mfg.exchange.type"].search([("code", "like", "mes.%")])}
out = {}


def waves(facts):
    # The drain's order (pipeline.schedule.waves): the n-th fact of each work order in wave n,
    # inside a wave the facts of one contract together; returns [(code, [data, ...]), ...].
    depth, rank, rows = {}, {}, []
    for pos, (code, data) in enumerate(facts):
        wave = depth.get(data["work_order"], 0)
        depth[data["work_order"]] = wave + 1
        rows.append((wave, rank.setdefault(code, len(rank)), pos, code, data))
    rows.sort(key=lambda r: r[:3])
    groups = []
    for wave, _rank, _pos, code, data in rows:
        if groups and groups[-1][0] == (wave, code):
            groups[-1][1].append(data)
        else:
            groups.append(((wave, code), [data]))
    return [(code, datas) for (_wave, code), datas in groups]


for path, savepoint in (("ceil", False), ("ceil_sp", True), ("ceil_b", "batch")):
    backend = env["mfg.backend"].browse(P[path]["backend_id"])
    handlers = {code: t._mfg_handler() for code, t in types.items()}
    batch_handlers = {code: t._mfg_batch_handler() for code, t in types.items()}
    # The handlers read only message.backend_id (and post on the message when a quantity had to be
    # rounded, which these exact quantities never are): a stand-in, so no pipeline row is involved.
    messages = {code: SimpleNamespace(backend_id=backend, name=f"ceiling {code}", id=0) for code in types}
    facts = P[path]["facts"]
    errors = []
    calls = 0
    per_code = {}
    profiler = None
    if P.get("profile") and savepoint == P.get("profile_path", False):
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.monotonic()
    if savepoint == "batch":
        # The batch handlers, as the drain calls them: 100 facts per commit (a drain's claim), in
        # waves, one call and one savepoint per contract and wave (one at a time for a single fact).
        for start in range(0, len(facts), 100):
            for code, datas in waves(facts[start:start + 100]):
                t1 = time.monotonic()
                try:
                    with env.cr.savepoint():
                        if len(datas) > 1 and batch_handlers[code]:
                            batch_handlers[code]([(messages[code], data) for data in datas])
                        else:
                            for data in datas:
                                handlers[code](messages[code], data)
                except Exception as exc:
                    errors.append(f"{datas[0]['message_id']}: {exc!r}"[:300])
                calls += len(datas)
                count, total = per_code.get(code, (0, 0.0))
                per_code[code] = (count + len(datas), total + time.monotonic() - t1)
            env.cr.commit()
        facts = []
    for code, data in facts:
        t1 = time.monotonic()
        try:
            if savepoint:
                with env.cr.savepoint():
                    handlers[code](messages[code], data)
            else:
                handlers[code](messages[code], data)
        except Exception as exc:
            errors.append(f"{data['message_id']}: {exc!r}"[:300])
            if not savepoint:
                env.cr.rollback()
        calls += 1
        if calls % 100 == 0:
            env.cr.commit()
        count, total = per_code.get(code, (0, 0.0))
        per_code[code] = (count + 1, total + time.monotonic() - t1)
    env.cr.commit()
    if profiler:
        profiler.disable()
        profiler.dump_stats(os.environ["BENCH_OUT"] + ".prof")
    out[path] = {"n": calls, "seconds": time.monotonic() - t0, "errors": errors[:5], "error_count": len(errors),
                 "per_code": per_code}
with open(os.environ["BENCH_OUT"], "w") as f:
    json.dump(out, f)
"""


# ---------------------------------------------------------------------------------------------- facts
def mo_facts(path, info, prefix):
    """The 5 facts of every MO of a path, in publishing order: [(contract code, payload), ...]."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    code = info["code"]
    out = []
    for i, mo in enumerate(info["mos"]):
        wo = mo["name"]

        def base(fact, wo=wo):
            return {"message_id": f"{prefix}:{wo}:{fact}", "sent_at": now, "work_order": wo}

        housing = {"component": f"HOU-{code}", "quantity": 2, "uom": "Units", "lot": "HL"}
        resin = {"component": f"RES-{code}", "quantity": 1005, "uom": "g"}
        out += [
            (
                "mes.operation_status",
                {**base("op:started"), "operation": f"WC-{code}", "status": "started", "at": now},
            ),
            ("mes.material_consumption", {**base("consume:housing"), "lines": [housing]}),
            ("mes.material_consumption", {**base("consume:resin"), "lines": [resin]}),
            (
                "mes.scrap",
                {**base("scrap"), "product": f"HOU-{code}", "quantity": 1, "uom": "Units", "lot": "HL"},
            ),
            (
                "mes.production_completion",
                {**base("completion"), "quantity": 2, "uom": "Units", "lot": f"F-{i:04d}", "final": True},
            ),
        ]
    return out


# ---------------------------------------------------------------------------------------------- naive
def naive_mo(rpc, proxy, info, i, mo):
    """The same 5 facts as Odoo's own methods, one XML-RPC call each (8 calls: the scrap and the
    completion take several). Returns the number of calls."""
    ctx = {
        "skip_backorder": True,
        "mo_ids_to_backorder": [],
        "skip_consumption": True,
        "skip_redirection": True,
    }
    calls = [
        ("mrp.workorder", "button_start", [[mo["wo"]]], {}),
        (
            "stock.move",
            "write",
            [[mo["mv_h"]], {"quantity": 2, "picked": True, "manual_consumption": True}],
            {},
        ),
        # 1005 g, converted to the move's kg by the integration itself
        (
            "stock.move",
            "write",
            [[mo["mv_r"]], {"quantity": 1.005, "picked": True, "manual_consumption": True}],
            {},
        ),
    ]
    for model, method, args, kwargs in calls:
        rpc.call(proxy, model, method, args, kwargs)
    scrap_id = rpc.call(
        proxy,
        "stock.scrap",
        "create",
        [
            {
                "production_id": mo["id"],
                "product_id": info["hou"],
                "product_uom_id": info["unit"],
                "scrap_qty": 1,
                "lot_id": info["lot"],
                "company_id": info["company_id"],
                "origin": mo["name"],
            }
        ],
        {},
    )
    rpc.call(proxy, "stock.scrap", "action_validate", [[scrap_id]], {})
    lot_id = rpc.call(
        proxy,
        "stock.lot",
        "create",
        [{"name": f"F-{i:04d}", "product_id": info["fin"], "company_id": info["company_id"]}],
        {},
    )
    rpc.call(proxy, "mrp.production", "write", [[mo["id"]], {"lot_producing_id": lot_id}], {})
    rpc.call(proxy, "mrp.production", "button_mark_done", [[mo["id"]]], {"context": ctx})
    return 8


class NaiveRpc:
    """execute_kw with an API key; a None result (Odoo cannot marshal it) counts as success,
    the transaction was committed before the answer was built."""

    def __init__(self, rpc):
        self.rpc = rpc

    def call(self, proxy, model, method, args, kwargs):
        import xmlrpc.client

        try:
            return proxy.execute_kw(self.rpc.db, self.rpc.uid, self.rpc.secret, model, method, args, kwargs)
        except xmlrpc.client.Fault as exc:
            if "cannot marshal None" in exc.faultString:
                return None
            raise


def naive_run(rpc, info, clients, timeout):
    """MOs dealt round-robin to ``clients`` threads; each plays its MOs' facts in order."""
    nrpc = NaiveRpc(rpc)
    mos = list(enumerate(info["mos"]))
    state = {"calls": 0, "mos": 0, "errors": []}
    lock = threading.Lock()
    deadline = time.monotonic() + timeout

    def worker(k):
        proxy = rpc.new_proxy()
        for i, mo in mos[k::clients]:
            if time.monotonic() > deadline:
                return
            try:
                calls = naive_mo(nrpc, proxy, info, i, mo)
                with lock:
                    state["calls"] += calls
                    state["mos"] += 1
            except Exception as exc:
                with lock:
                    state["errors"].append(f"{mo['name']}: {exc!r}"[:400])

    start = time.monotonic()
    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 30)
    state["seconds"] = time.monotonic() - start
    for err in state["errors"][:3]:
        log(f"  naive error: {err}")
    return state


# ---------------------------------------------------------------------------------------------- ours
def b2mml_bodies(info, facts):
    """The facts of a path as published by a B2MML MES: [(topic suffix, body)] and the number of
    messages Odoo stores (a document and its fact for each B2MML one)."""
    bodies, messages = [], 0
    for code, data in facts:
        if code in plant_b2mml.USES:
            if code == "mes.production_completion":
                data = {**data, "product": f"FIN-{info['code']}"}
            bodies.append(("b2mml.document", plant_b2mml.performance(code, data)))
            messages += 2
        else:
            bodies.append((code, json.dumps(data)))
            messages += 1
    return bodies, messages


def ours_run(ctx, info, facts, budget, wire="json"):
    sql = ctx["sql"]
    if wire == "b2mml":
        payloads, n = b2mml_bodies(info, facts)
    else:
        payloads, n = [(code, json.dumps(data)) for code, data in facts], len(facts)
    backend_id = info["backend_id"]
    sql(
        "UPDATE mfg_backend SET mqtt_enabled = (id = %s), write_date = now() AT TIME ZONE 'UTC' "
        "WHERE mqtt_enabled OR id = %s",
        (backend_id, backend_id),
    )
    lp = ListenerProcess(ctx["settings"], f"mesbench{os.getpid()}", ctx["logs"])
    ctx["listeners"].append(lp)
    prefix = info["inbound_topic"].rsplit("/", 1)[0]
    result = {"n": n}
    pub = None
    try:
        lp.start()
        lp.wait_log(f"subscribed to {info['inbound_topic']}", timeout=budget.cap(120))
        poller = Poller(
            ctx["db"], backend_id, n, True, budget.cap(180), budget.cap(ctx["done_timeout"]), ctx["on_stall"]
        )
        poller.start()
        pub = Publisher(ctx["broker"].port, f"mesbench-pub-{uuid.uuid4().hex[:6]}")
        bodies = [(f"{prefix}/{code}", body) for code, body in payloads]
        t0 = poller.t0 = time.monotonic()
        for topic, body in bodies:
            pub.publish(topic, body)
        acked = pub.wait_acked(n, timeout=budget.cap(120))
        result["publish_s"] = time.monotonic() - t0 if acked else None
        poller.finished.wait(budget.cap(ctx["done_timeout"] + 200))
        result["last"] = poller.last
        result["poll_error"] = poller.error
        result["received_s"] = poller.t_received - t0 if poller.t_received else None
        result["done_s"] = poller.t_done - t0 if poller.t_done else None
        result["elapsed_at_stop"] = time.monotonic() - t0
        result["stalls"] = poller.stalls
    finally:
        if pub is not None:
            pub.close()
        lp.stop()
        sql(
            "UPDATE mfg_backend SET mqtt_enabled = false, write_date = now() AT TIME ZONE 'UTC' WHERE id = %s",
            (backend_id,),
        )
    failed = sql(
        """SELECT m.external_id, m.state, left(coalesce(m.error_message, ''), 300) FROM mfg_message m
            WHERE m.backend_id = %s AND m.state <> 'done' ORDER BY m.id LIMIT 5""",
        (backend_id,),
    )
    result["not_done"] = failed
    durations = sql(
        """SELECT t.code, count(*), avg(m.duration_ms) FROM mfg_message m
             JOIN mfg_exchange_type t ON t.id = m.exchange_type_id
            WHERE m.backend_id = %s AND m.state = 'done' GROUP BY t.code ORDER BY t.code""",
        (backend_id,),
    )
    result["handler_ms"] = {code: (count, float(avg or 0)) for code, count, avg in durations}
    return result


# ---------------------------------------------------------------------------------------------- checks
def outcome(sql, info):
    """Stock quants of the path's products, normalised across paths: (product role, location
    with the warehouse code replaced by WH, lot) -> quantity; and the MOs' states."""
    rows = sql(
        """SELECT split_part(pp.default_code, '-', 1), loc.complete_name, coalesce(lot.name, ''),
                  round(sum(q.quantity)::numeric, 6)
             FROM stock_quant q
             JOIN product_product pp ON pp.id = q.product_id
             JOIN stock_location loc ON loc.id = q.location_id
             LEFT JOIN stock_lot lot ON lot.id = q.lot_id
            WHERE q.product_id IN %s
            GROUP BY 1, 2, 3 HAVING round(sum(q.quantity)::numeric, 6) <> 0 ORDER BY 1, 2, 3""",
        (tuple(info["products"]),),
    )
    quants = {(role, loc.replace(info["code"], "WH"), lot): float(qty) for role, loc, lot, qty in rows}
    states = dict(
        sql(
            "SELECT state, count(*) FROM mrp_production WHERE id IN %s GROUP BY state",
            (tuple(mo["id"] for mo in info["mos"]),),
        )
    )
    scraps = sql(
        "SELECT count(*), coalesce(sum(scrap_qty), 0) FROM stock_scrap WHERE state = 'done' AND product_id = %s",
        (info["hou"],),
    )[0]
    return {"quants": quants, "states": states, "scraps": (scraps[0], float(scraps[1]))}


def quants_text(quants):
    """Per product role and location: total quantity and number of lots (the full detail is compared)."""
    summary = {}
    for (role, loc, lot), qty in quants.items():
        total, lots = summary.get((role, loc), (0.0, set()))
        summary[(role, loc)] = (total + qty, lots | ({lot} if lot else set()))
    return "; ".join(
        f"{role} {loc}: {total:g}" + (f" in {len(lots)} lot(s)" if lots else "")
        for (role, loc), (total, lots) in sorted(summary.items())
    )


# ---------------------------------------------------------------------------------------------- report
def render(facts_line, rows, best_naive_mos):
    header = (
        "path",
        "setup",
        "MOs",
        "facts",
        "calls",
        "time (s)",
        "MOs/s",
        "facts/s",
        "× best naive",
        "target",
    )
    table = []
    for r in rows:
        if r.get("seconds"):
            mos_s = r["mos"] / r["seconds"]
            ratio = f"{mos_s / best_naive_mos:.2f}" if best_naive_mos else "—"
            cells = (
                f"{r['seconds']:.1f}{r.get('mark', '')}",
                f"{mos_s:.2f}",
                f"{r['facts'] / r['seconds']:.1f}",
            )
        else:
            ratio, cells = "—", (r.get("timeout_text", "—"), "—", "—")
        table.append(
            (
                r["path"],
                r["setup"],
                f"{r['mos']}",
                f"{r['facts']}",
                f"{r.get('calls', '')}",
                *cells,
                ratio,
                r.get("target", ""),
            )
        )
    widths = [max(len(str(row[i])) for row in [header, *table]) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [f"MES facts benchmark — {facts_line}", "", line(header)]
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    out += [line(row) for row in table]
    return "\n".join(out)


def main():  # noqa: C901 - a flat script: parse, set up, run each path, print
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mos", type=int, default=20, help="manufacturing orders per path (default 20)")
    parser.add_argument("--keep-db", action="store_true", help="keep the database and the logs")
    parser.add_argument("--done-timeout", type=float, default=300, help="cap of the wait for 'done' (s)")
    parser.add_argument("--budget", type=float, default=900, help="whole-run time budget (default 900 s)")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the in-process ceiling")
    parser.add_argument(
        "--wire",
        choices=("json", "b2mml"),
        default="json",
        help="b2mml: also run 'ours' with the MES speaking B2MML (needs mfg_b2mml)",
    )
    parser.add_argument("--no-naive", action="store_true", help="skip the naive XML-RPC paths")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the ceiling's no-savepoint loop (skews that row); prints the top functions, keeps the logs",
    )
    parser.add_argument(
        "--profile-batch",
        action="store_true",
        help="with --profile: profile the batch handlers' ceiling instead",
    )
    args = parser.parse_args()

    started = time.monotonic()
    budget = Budget(args.budget)
    db = f"mfg_bench_mes_{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix=f"{db}_"))
    logs = work / "logs"
    logs.mkdir()
    conf = work / "odoo.conf"
    ctx = {"db": db, "logs": logs, "listeners": [], "done_timeout": args.done_timeout}
    server = broker = sql = None
    failed = True
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupted)
    try:
        if not ODOO_BIN.exists():
            raise SystemExit(f"{ODOO_BIN} not found: run setup/bootstrap first")
        server = OdooServer(str(ODOO_BIN), str(conf), db, logs)
        write_conf(conf, db, server.port, free_port())
        broker = Broker(work / "broker", max_queued_messages=0, max_inflight_messages=100).start()
        ctx["broker"] = broker
        log(f"config {conf}; creating database {db} (odoo -i mfg_mes_connector)")
        t = time.monotonic()
        install = odoo_install(conf, db, logs, budget, b2mml=args.wire == "b2mml")
        sql = ctx["sql"] = Sql(db)
        if not install:
            raise RuntimeError(f"install failed: see {logs / 'install.log'}")
        install_s = time.monotonic() - t
        path_letters = dict(PATHS, **({B2MML_PATH: "B"} if args.wire == "b2mml" else {}))
        if args.no_naive:
            path_letters = {k: v for k, v in path_letters.items() if not k.startswith("naive")}
        if args.no_ceiling:
            path_letters = {k: v for k, v in path_letters.items() if not k.startswith("ceil")}
        paths = {key: f"{letter}{uuid.uuid4().hex[:4].upper()}" for key, letter in path_letters.items()}
        log(f"database ready in {install_s:.0f}s; building {args.mos} MOs per path ({', '.join(paths)})")
        t = time.monotonic()
        data = odoo_shell(
            conf,
            db,
            SETUP_SCRIPT,
            {"n": args.mos, "paths": paths, "mes_codes": MES_CODES, "broker_port": broker.port},
            logs,
            "setup",
            budget.cap(600),
        )
        setup_s = time.monotonic() - t
        prefix = uuid.uuid4().hex[:6]
        for key, info in data.items():
            info["facts"] = mo_facts(key, info, f"{prefix}{key}")
        log(f"data ready in {setup_s:.0f}s; starting Odoo (workers=2, queue_job root:2)")
        start_server(server, work, budget.cap(180))
        ctx["settings"] = {"conf": str(conf), "db": db, "odoo_bin": str(ODOO_BIN)}
        rpc = Rpc(server.base_url, db)
        cron_id = sql(
            "SELECT res_id FROM ir_model_data WHERE module = 'mfg_integration_base' "
            "AND name = 'ir_cron_mfg_drain_due'"
        )[0][0]

        def trigger_safety_net():
            log("  stalled: no drain job pending while messages wait; running the safety-net cron now")
            Rpc(server.base_url, db)("ir.cron", "method_direct_trigger", [cron_id])

        ctx["on_stall"] = trigger_safety_net
        rpc_key = Rpc(server.base_url, db, secret=make_api_key(sql, rpc.uid))
        for _ in range(4):  # every prefork worker has loaded the registry
            rpc_key("mrp.production", "search_count", [])
        load_before = os.getloadavg()
        rows = []
        n_facts = args.mos * FACTS_PER_MO
        for key, clients in () if args.no_naive else (("naive1", 1), ("naive4", 4)):
            log(f"naive: {args.mos} MOs over XML-RPC, {clients} client(s)")
            r = naive_run(rpc_key, data[key], clients, budget.cap(300))
            log(f"  {r['mos']} MOs in {r['seconds']:.1f}s, {len(r['errors'])} error(s)")
            rows.append(
                {
                    "key": key,
                    "path": "naive XML-RPC",
                    "setup": f"{clients} client{'s' if clients > 1 else ''}, API key, 1 call per Odoo method",
                    "mos": r["mos"],
                    "facts": r["mos"] * FACTS_PER_MO,
                    "calls": r["calls"],
                    "seconds": r["seconds"] if not r["errors"] else None,
                    "timeout_text": f"{len(r['errors'])} ERRORS",
                }
            )
        naive_rates = [r["mos"] / r["seconds"] for r in rows if r.get("seconds")]
        best_naive = max(naive_rates) if naive_rates else None
        if not wait_for_text(server, "queue job runner ready for db", budget.cap(60)):
            log("warning: the queue_job runner did not report ready: 'done' may time out")
        log(f"ours: {n_facts} facts over MQTT, 1 listener, Odoo processing")
        ours = ours_run(ctx, data["ours"], data["ours"]["facts"], budget)
        log(f"  received {ours['received_s']} s, done {ours['done_s']} s, last counts {ours.get('last')}")
        row = {
            "key": "ours",
            "path": "ours MQTT",
            "setup": "1 listener, queue_job drains (workers 2, root:2)",
            "mos": args.mos,
            "facts": n_facts,
            "calls": "",
            "seconds": ours["done_s"],
            "mark": " *" if ours.get("stalls") else "",
            "target": f"≥ {TARGET_FACTOR * best_naive:.2f} MOs/s (3×)" if best_naive else "",
        }
        if not ours["done_s"]:
            c = ours.get("last") or {}
            row["timeout_text"] = f"TIMEOUT {ours['elapsed_at_stop']:.0f} ({c.get('done', 0)}/{n_facts} done)"
        rows.append(row)
        if args.wire == "b2mml":
            log(f"ours B2MML: {n_facts} facts over MQTT, 4 of 5 per MO as B2MML documents")
            ours_b = ours_run(ctx, data[B2MML_PATH], data[B2MML_PATH]["facts"], budget, wire="b2mml")
            log(f"  received {ours_b['received_s']} s, done {ours_b['done_s']} s, last {ours_b.get('last')}")
            row = {
                "key": B2MML_PATH,
                "path": "ours MQTT, B2MML",
                "setup": "as above; consumption, scrap, completion as B2MML documents",
                "mos": args.mos,
                "facts": n_facts,
                "calls": "",
                "seconds": ours_b["done_s"],
                "mark": " *" if ours_b.get("stalls") else "",
            }
            if not ours_b["done_s"]:
                c = ours_b.get("last") or {}
                row["timeout_text"] = f"TIMEOUT {ours_b['elapsed_at_stop']:.0f} ({c.get('done', 0)} done)"
            rows.append(row)
            if ours_b.get("not_done"):
                log(f"  ours B2MML, messages not done (first 5): {ours_b['not_done']}")
            if ours_b.get("handler_ms"):
                log(
                    "  ours B2MML, mean time per message (duration_ms): "
                    + ", ".join(f"{c} {avg:.0f} ms (×{n})" for c, (n, avg) in ours_b["handler_ms"].items())
                )
        log("stopping Odoo")
        server.stop()
        ceiling = {}
        if not args.no_ceiling:
            log("in-process ceiling: handlers in a loop in one odoo shell, 100 per commit")
            ceiling = odoo_shell(
                conf,
                db,
                CEILING_SCRIPT,
                {
                    "profile": args.profile,
                    "profile_path": "batch" if args.profile_batch else False,
                    **{
                        k: {"backend_id": data[k]["backend_id"], "facts": data[k]["facts"]}
                        for k in ("ceil", "ceil_sp", "ceil_b")
                    },
                },
                logs,
                "ceiling",
                budget.cap(600),
            )
            for key, label in (
                ("ceil", "handlers in a loop, 1 process, 100 per commit, no savepoint"),
                ("ceil_sp", "handlers in a loop, 1 process, 100 per commit, savepoint per message"),
                ("ceil_b", "batch handlers per wave, 1 process, 100 per commit, savepoint per batch"),
            ):
                c = ceiling[key]
                rows.append(
                    {
                        "key": key,
                        "path": "in-process ceiling",
                        "setup": label,
                        "mos": args.mos,
                        "facts": c["n"],
                        "calls": "",
                        "seconds": c["seconds"] if not c["error_count"] else None,
                        "timeout_text": f"{c['error_count']} ERRORS",
                    }
                )
                for err in c["errors"]:
                    log(f"  ceiling error: {err}")
            if args.profile:
                rows[-1 if args.profile_batch else -3]["setup"] += " (cProfiled)"
        load_after = os.getloadavg()
        # ------------------------------------------------------------------ checks
        outcomes = {r["key"]: outcome(sql, data[r["key"]]) for r in rows}
        reference = outcomes[rows[0]["key"]]
        checks = []
        for key, o in outcomes.items():
            same = o["quants"] == reference["quants"]
            all_done = o["states"] == {"done": args.mos}
            checks.append((key, same, all_done, o))
        facts_line = (
            f"{datetime.date.today().isoformat()}, {platform.node()}, nproc {os.cpu_count()}, "
            f"{args.mos} MOs × {FACTS_PER_MO} facts per path, load average {load_before[0]:.1f} before / "
            f"{load_after[0]:.1f} after the measurements"
        )
        print()
        print(render(facts_line, rows, best_naive))
        print()
        ceil_rate = ours_rate = None
        if ceiling.get("ceil") and not ceiling["ceil"]["error_count"]:
            ceil_rate = ceiling["ceil"]["n"] / ceiling["ceil"]["seconds"]
        if ours["done_s"]:
            ours_rate = n_facts / ours["done_s"]
        if ceil_rate and ours_rate:
            print(
                f"pipeline / in-process ceiling (no savepoint): {ours_rate:.1f} / {ceil_rate:.1f} facts/s = "
                f"{ours_rate / ceil_rate:.0%} (target ≥ 80%)"
            )
        if ceiling.get("ceil_b") and not ceiling["ceil_b"]["error_count"] and ours_rate:
            batch_rate = ceiling["ceil_b"]["n"] / ceiling["ceil_b"]["seconds"]
            print(
                f"pipeline / in-process ceiling of the batch handlers: {ours_rate:.1f} / {batch_rate:.1f} facts/s "
                f"= {ours_rate / batch_rate:.0%}"
            )
        if best_naive and ours_rate:
            print(
                f"ours / best naive: {ours_rate / FACTS_PER_MO / best_naive:.2f}× (target ≥ {TARGET_FACTOR}×)"
            )
        print(
            "same stock quants on every path: "
            + ", ".join(f"{k} {'yes' if s else 'NO'}" for k, s, _d, _o in checks)
        )
        print("every MO done: " + ", ".join(f"{k} {'yes' if d else o['states']}" for k, _s, d, o in checks))
        print(f"  quants ({rows[0]['key']}): {quants_text(reference['quants'])}")
        for key, same, _d, o in checks:
            if not same:
                print(f"  quants ({key}): {quants_text(o['quants'])}")
        print(
            "  scraps done (count, Units): "
            + ", ".join(f"{k} {o['scraps'][0]}/{o['scraps'][1]:g}" for k, _s, _d, o in checks)
        )
        if ours.get("handler_ms"):
            print(
                "  ours, mean time per message in the pipeline (duration_ms: payload check + handler): "
                + ", ".join(
                    f"{code} {avg:.0f} ms (×{count})" for code, (count, avg) in ours["handler_ms"].items()
                )
            )
        for key in ("ceil", "ceil_sp", "ceil_b"):
            if ceiling.get(key, {}).get("per_code"):
                print(
                    f"  ceiling ({key}), mean time per handler call: "
                    + ", ".join(
                        f"{code} {1000 * total / count:.0f} ms (×{count})"
                        for code, (count, total) in sorted(ceiling[key]["per_code"].items())
                    )
                )
        if args.profile:
            print_profile(logs / "ceiling" / "out.json.prof")
        if ours.get("not_done"):
            print(f"  ours, messages not done (first 5): {ours['not_done']}")
        if ours.get("stalls"):
            print(
                f"* stalled (s after first publish, done): {ours['stalls']}; the safety-net cron was run at once"
            )
        print(
            f"  ours: received-and-committed {ours['received_s'] or 0:.1f}s, publish (all PUBACKs) "
            f"{ours.get('publish_s') or 0:.1f}s; database install {install_s:.0f}s, data {setup_s:.0f}s; "
            f"whole run {time.monotonic() - started:.0f}s"
        )
        failed = False
    finally:
        for lp in ctx["listeners"]:
            try:
                lp.stop()
            except Exception as exc:
                log(f"could not stop listener {lp.name}: {exc!r}")
        if server is not None:
            server.stop()
        if broker is not None:
            broker.stop()
        if sql is not None:
            sql.close()
        if args.keep_db:
            log(f"kept database {db}; config and logs in {work}")
        else:
            drop_db(db)
            if failed:
                log(f"logs kept in {work}")
            elif args.profile:
                log(f"profile and logs kept in {work}")
            else:
                shutil.rmtree(work, ignore_errors=True)
        log(f"finished in {time.monotonic() - started:.0f}s")


def print_profile(path, top=25):
    """The ceiling's cProfile: top functions by cumulative and by own time."""
    import io
    import pstats

    for sort in ("cumulative", "tottime"):
        buf = io.StringIO()
        pstats.Stats(str(path), stream=buf).strip_dirs().sort_stats(sort).print_stats(top)
        text = buf.getvalue()
        print(f"  cProfile of the ceiling loop, by {sort} (full profile: {path}):")
        print(text[text.find("   ncalls") :].rstrip())


def odoo_install(conf, db, logs, budget, b2mml=False):
    from mqtt_ingest import run_bounded

    install_log = logs / "install.log"
    rc = run_bounded(
        [str(ODOO_BIN), "-c", str(conf), "-d", db, "-i", "mfg_mes_connector" + (",mfg_b2mml" if b2mml else ""),
         "--stop-after-init",
         f"--logfile={install_log}"],
        budget.cap(420, reserve=200), install_log,
    )  # fmt: skip
    check = Sql(db)
    state = check("SELECT state FROM ir_module_module WHERE name = 'mfg_mes_connector'")
    check.close()
    return rc == 0 and state and state[0][0] == "installed"


if __name__ == "__main__":
    main()
