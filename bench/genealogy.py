"""Genealogy on 100,000 stock move lines: how long one lot's tree takes (printed, not asserted).

    ~/.cache/mfg-hub/venv/bin/python bench/genealogy.py [--lines 100000] [--samples 50] [--keep-db]

Self-contained: copies the template database (``mfg_tpl``: Odoo with stock and mrp installed, as the
Odoo tests use it) to a scratch database, fills it with a four-level plant written straight in SQL
(raw lots received, three levels of manufacturing orders each consuming three lots of the level below,
finished lots delivered to customers; foreign keys off in that scratch database only), then times the
queries of ``addons/mfg_traceability/lib/genealogy.py`` — the same functions the addon runs — for random
lots, without and with the addon's index on ``stock_move_line.lot_id``; drops the database.
"""

import argparse
import importlib.util
import io
import os
import random
import statistics
import sys
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
DSN = "host=127.0.0.1 port=5432 user=postgres"
TEMPLATE = "mfg_tpl"
INDEX_SQL = (
    "CREATE INDEX mfg_trace_stock_move_line_lot_idx ON stock_move_line (lot_id) WHERE lot_id IS NOT NULL"
)
# Locations of the template database (ids of Odoo's default warehouse and virtual locations).
STOCK, CUSTOMERS, SUPPLIERS, PRODUCTION = 8, 5, 4, 15


def load_genealogy():
    path = ROOT / "addons/mfg_traceability/lib/genealogy.py"
    spec = importlib.util.spec_from_file_location("genealogy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def plan(lines):
    """Lots per level so that the plant has about ``lines`` move lines: each MO writes 3 consumed
    lines and 1 produced line; every raw lot one receipt line, every finished lot one delivery."""
    unit = lines / 101_000
    return [int(12_000 * unit), int(9_000 * unit), int(7_000 * unit), int(5_000 * unit)]


def copy_rows(cr, table, columns, rows):
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
    buf.seek(0)
    cr.copy_from(buf, table, columns=columns)


def build(cr, levels, seed=42):
    """Write the plant; return (lots per level, move line count)."""
    rng = random.Random(seed)
    cr.execute("SET session_replication_role = replica")  # no FK checks: products etc. are not created
    cr.execute("SELECT id FROM res_company ORDER BY id LIMIT 1")
    company = cr.fetchone()[0]
    cr.execute("SELECT id FROM uom_uom ORDER BY id LIMIT 1")
    uom = cr.fetchone()[0]
    date = "2026-03-01 08:00:00"
    lot_id = move_id = line_id = production_id = 1_000_000
    lots_by_level = []
    lots, moves, mls, rels, productions = [], [], [], [], []

    def new_move(product, src, dest, raw_mo=None, mo=None):
        nonlocal move_id
        move_id += 1
        moves.append(
            (move_id, company, product, uom, src, dest, "bench", "make_to_stock", 1, date, "done", raw_mo, mo)
        )
        return move_id

    def new_line(move, product, lot, qty, src, dest):
        nonlocal line_id
        line_id += 1
        mls.append((line_id, company, uom, src, dest, date, move, product, lot, qty, qty, "done"))
        return line_id

    for level, count in enumerate(levels):
        product = 10 + level
        level_lots = []
        for _ in range(count):
            lot_id += 1
            lots.append((lot_id, product, f"L{level}-{lot_id}", company))
            level_lots.append(lot_id)
            if level == 0:
                move = new_move(product, SUPPLIERS, STOCK)
                new_line(move, product, lot_id, 10, SUPPLIERS, STOCK)
                continue
            production_id += 1
            productions.append(
                (production_id, product, uom, 1, STOCK, STOCK, company, "flexible", 1, date, "done")
            )
            consumed = []
            for component in rng.sample(lots_by_level[-1], 3):
                move = new_move(product - 1, STOCK, PRODUCTION, raw_mo=production_id)
                consumed.append(new_line(move, product - 1, component, 1, STOCK, PRODUCTION))
            move = new_move(product, PRODUCTION, STOCK, mo=production_id)
            produced = new_line(move, product, lot_id, 1, PRODUCTION, STOCK)
            rels.extend((produced, c) for c in consumed)
        lots_by_level.append(level_lots)
    for lot in lots_by_level[-1]:
        move = new_move(10 + len(levels) - 1, STOCK, CUSTOMERS)
        new_line(move, 10 + len(levels) - 1, lot, 1, STOCK, CUSTOMERS)

    copy_rows(cr, "stock_lot", ("id", "product_id", "name", "company_id"), lots)
    copy_rows(
        cr,
        "mrp_production",
        (
            "id",
            "product_id",
            "product_uom_id",
            "picking_type_id",
            "location_src_id",
            "location_dest_id",
            "company_id",
            "consumption",
            "product_qty",
            "date_start",
            "state",
        ),
        productions,
    )
    copy_rows(
        cr,
        "stock_move",
        (
            "id",
            "company_id",
            "product_id",
            "product_uom",
            "location_id",
            "location_dest_id",
            "name",
            "procure_method",
            "product_uom_qty",
            "date",
            "state",
            "raw_material_production_id",
            "production_id",
        ),
        moves,
    )
    copy_rows(
        cr,
        "stock_move_line",
        (
            "id",
            "company_id",
            "product_uom_id",
            "location_id",
            "location_dest_id",
            "date",
            "move_id",
            "product_id",
            "lot_id",
            "quantity",
            "quantity_product_uom",
            "state",
        ),
        mls,
    )
    copy_rows(cr, "stock_move_line_consume_rel", ("consume_line_id", "produce_line_id"), rels)
    cr.execute("SET session_replication_role = DEFAULT")
    cr.execute("ANALYZE stock_lot, stock_move, stock_move_line, stock_move_line_consume_rel")
    return lots_by_level, len(mls)


def timed(fn, samples):
    durations = []
    sizes = []
    for arg in samples:
        start = time.perf_counter()
        size = fn(arg)
        durations.append((time.perf_counter() - start) * 1000)
        sizes.append(size)
    durations.sort()
    return {
        "median": statistics.median(durations),
        "p95": durations[max(0, int(len(durations) * 0.95) - 1)],
        "max": durations[-1],
        "nodes": statistics.mean(sizes),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lines", type=int, default=100_000, help="about this many move lines (default 100,000)"
    )
    parser.add_argument("--samples", type=int, default=50, help="lots timed per query (default 50)")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    genealogy = load_genealogy()
    db = f"mfg_bench_genealogy_{os.getpid()}"
    admin = psycopg2.connect(f"{DSN} dbname=postgres")
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{db}" TEMPLATE {TEMPLATE}')
    try:
        conn = psycopg2.connect(f"{DSN} dbname={db}")
        cr = conn.cursor()
        start = time.perf_counter()
        levels, line_count = build(cr, plan(args.lines))
        conn.commit()
        print(
            f"plant: {line_count:,} move lines, lots per level {[len(level) for level in levels]}, "
            f"built in {time.perf_counter() - start:.1f} s"
        )
        rng = random.Random(7)
        finished = rng.sample(levels[-1], args.samples)
        raw = rng.sample(levels[0], args.samples)

        def upstream(lot):
            _depths, edges = genealogy.edges(cr, [lot], genealogy.UPSTREAM)
            genealogy.build_tree(lot, edges)
            return len(edges)

        def downstream(lot):
            depths, edges = genealogy.edges(cr, [lot], genealogy.DOWNSTREAM)
            genealogy.shipments(cr, list(depths))
            return len(edges)

        def recall(lot):
            return len(genealogy.reach(cr, [lot], genealogy.DOWNSTREAM))

        rows = []
        for label, index in (("no index on lot_id", False), ("addon's index on lot_id", True)):
            if index:
                cr.execute(INDEX_SQL)
                cr.execute("ANALYZE stock_move_line")
                conn.commit()
            for name, fn, sample in (
                ("upstream tree of a finished lot", upstream, finished),
                ("downstream tree + shipments of a raw lot", downstream, raw),
                ("recall reach of a raw lot", recall, raw),
            ):
                rows.append((label, name, timed(fn, sample)))
        print()
        print(f"{'':26} {'query':42} {'median ms':>10} {'p95 ms':>8} {'max ms':>8} {'edges/lots':>10}")
        for label, name, r in rows:
            print(
                f"{label:26} {name:42} {r['median']:10.2f} {r['p95']:8.2f} {r['max']:8.2f} {r['nodes']:10.1f}"
            )
        print("\ntarget (issue 19): under 1 s per lot on 100,000 move lines (printed, not asserted)")
        conn.close()
    finally:
        if not args.keep_db:
            admin.cursor().execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
