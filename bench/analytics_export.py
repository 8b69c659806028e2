"""Analytics export of integration facts: rows/s and peak memory, and the MQTT ingest beside it.

    ~/.cache/mfg-hub/venv/bin/python bench/analytics_export.py [--messages N] [--with-mqtt] [--keep-db]

Self-contained, everything on 127.0.0.1:

1. a throwaway database ``mfg_bench_analytics_<pid>``: a copy of the test template ``mfg_tpl``
   (queue_job, mail, stock, mrp) with ``mfg_analytics`` installed (``odoo -i``), or a copy of
   ``--source-db``; one backend and one analytics target (Parquet folder under ``file_roots``);
2. N integration messages inserted with one ``INSERT … SELECT … FROM generate_series`` (7 days,
   90 % done, the rest failed / dead / retrying / rejected, latencies 5 ms – 5 s, some retries and
   incident signatures), then ``ANALYZE``;
3. the export in its own process (``odoo shell``, the production path: one short read-only
   transaction per page, state and watermarks committed at the end): facts only, then the measures
   (DuckDB over the Parquet files); it prints rows, seconds, rows/s and the process's peak RSS
   (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) after Odoo's start, after the export and after
   the measures;
4. with ``--with-mqtt``: ``bench/mqtt_ingest.py`` (its own database, listener and broker) alone,
   then again while exports of all N messages run back to back (state reset between passes) for the
   whole of its run; prints its received-and-committed rates side by side.

Drops the database unless ``--keep-db``.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
HUB = Path(
    os.environ.get("MFG_HUB_HOME")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mfg-hub"
)
ODOO_BIN = HUB / "venv" / "bin" / "odoo"
PYTHON = HUB / "venv" / "bin" / "python"
PG = {"host": "127.0.0.1", "port": 5432, "user": "odoo"}


def log(text):
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def pg(db):
    cnx = psycopg2.connect(dbname=db, **PG)
    cnx.autocommit = True
    return cnx


def execute(db, *statements):
    """Run (sql, params) statements in autocommit (CREATE DATABASE cannot run in a transaction)."""
    cnx = pg(db)
    try:
        with cnx.cursor() as cr:
            for query, params in statements:
                cr.execute(query, params)
                rows = cr.fetchall() if cr.description else None
        return rows
    finally:
        cnx.close()


def write_conf(conf, db):
    subprocess.run(
        [
            "bash",
            "-c",
            f'. "{ROOT}/setup/lib.sh" && mfg_write_conf "$1" "$2" "max_cron_threads = 0"',
            "_",
            conf,
            db,
        ],
        check=True,
    )


def odoo_shell(conf, db, script, timeout=3600):
    """Run ``script`` in ``odoo shell``; returns the JSON it printed on its last line."""
    proc = subprocess.run(
        [str(ODOO_BIN), "shell", "-c", conf, "-d", db, "--no-http", "--log-level=warn"],
        input=script,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"odoo shell failed (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return json.loads(lines[-1])


SETUP = """
import json, os
from odoo.addons.mfg_integration_base.lib import safe_files
etype = env.ref("mfg_mes_connector.exchange_type_material_consumption")
backend = env["mfg.backend"].create({"name": "Bench plant", "code": "bench-analytics", "company_id": env.company.id,
    "flow_ids": [(0, 0, {"exchange_type_id": etype.id})]})
folder = os.path.join(safe_files.configured_roots()[0], "analytics-bench-%d" % os.getpid())
target = env["mfg.analytics.target"].create({"name": "Bench lake", "parquet_folder": folder})
env.cr.commit()
print(json.dumps({"backend": backend.id, "etype": etype.id, "company": env.company.id, "target": target.id,
                  "folder": folder}))
"""

EXPORT = """
import json, resource, time
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
target = env["mfg.analytics.target"].browse(%(target)d)
out = {"rss_start_mb": rss()}
t = time.monotonic()
run = env["mfg.analytics.run"]._mfg_execute(target, refresh=False)
env.cr.commit()
out.update(export_s=time.monotonic() - t, rows=run.rows_exported, rows_read=run.rows_read, rss_export_mb=rss())
t = time.monotonic()
computed = env["mfg.analytics.oee"]._mfg_refresh_measures(target)
env.cr.commit()
out.update(measures_s=time.monotonic() - t, sla_rows=len(computed["sla"]), rss_measures_mb=rss())
print(json.dumps(out))
"""

INSERT = """
INSERT INTO mfg_message (backend_id, exchange_type_id, company_id, direction, state, transport, external_id,
                         name, received_at, processed_at, duration_ms, attempts, error_class, error_signature,
                         create_date, write_date, create_uid, write_uid)
SELECT %(backend)s, %(etype)s, %(company)s, 'inbound', st, 'mqtt', 'bench-' || g, 'bench-' || g,
       rcv, CASE WHEN st = 'done' THEN rcv + (5 + (g::bigint * 7919) %% 5000) * interval '1 millisecond' END,
       1 + (g %% 40), CASE WHEN g %% 50 = 0 THEN 3 ELSE 1 END,
       CASE WHEN st IN ('failed', 'dead', 'rejected') THEN 'business' END,
       CASE WHEN st IN ('failed', 'dead') THEN 'sig-' || (g %% 7) END,
       rcv, rcv + interval '6 seconds', 1, 1
  FROM (SELECT g, now() at time zone 'utc' - interval '7 days' + (g * (7 * 86400.0 / %(n)s)) * interval '1 second' AS rcv,
               CASE WHEN g %% 100 < 90 THEN 'done' WHEN g %% 100 < 94 THEN 'failed' WHEN g %% 100 < 96 THEN 'dead'
                    WHEN g %% 100 < 98 THEN 'retrying' ELSE 'rejected' END AS st
          FROM generate_series(1, %(n)s) g) s
"""


def reset_export(db, info):
    execute(
        db,
        ("DELETE FROM mfg_analytics_state WHERE target_id = %s", (info["target"],)),
        ("DELETE FROM mfg_analytics_watermark WHERE target_id = %s", (info["target"],)),
    )
    shutil.rmtree(info["folder"], ignore_errors=True)


def mqtt_ingest(args, label):
    """bench/mqtt_ingest.py, ingest only (no Odoo processing runs): its received-and-committed rates."""
    cmd = [str(PYTHON), str(ROOT / "bench" / "mqtt_ingest.py"), "--no-e2e", "--messages", str(args.mqtt_messages),
           "--naive-events", "50", "--naive-seconds", "2"]  # fmt: skip
    log(f"mqtt_ingest ({label}): {' '.join(cmd[1:])}")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"mqtt_ingest failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    rates = {}
    header = None
    for line in proc.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if "rate (/s)" in cells:
            header = cells
        elif header and len(cells) == len(header) and "received" in cells[header.index("measures")]:
            rates[cells[header.index("setup")]] = (
                cells[header.index("msgs")],
                cells[header.index("rate (/s)")],
            )
    return rates, proc.stdout


def set_up(args, db, conf, work):
    state = execute(db, ("SELECT state FROM ir_module_module WHERE name = 'mfg_analytics'", None))
    if not state or state[0][0] != "installed":
        log(f"installing mfg_analytics in {db}")
        subprocess.run(
            [str(ODOO_BIN), "-c", conf, "-d", db, "-i", "mfg_analytics", "--stop-after-init",
             f"--logfile={work / 'install.log'}"],
            check=True, timeout=1200,
        )  # fmt: skip
    info = odoo_shell(conf, db, SETUP)
    t = time.monotonic()
    execute(db, (INSERT, {**info, "n": args.messages}), ("ANALYZE mfg_message", None))
    insert_s = time.monotonic() - t
    log(f"{args.messages:,} messages inserted in {insert_s:.1f}s")
    return info, insert_s


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--messages", type=int, default=1_000_000, help="messages to insert and export (1,000,000)"
    )
    parser.add_argument(
        "--source-db", default="mfg_tpl", help="database to copy (default: the test template)"
    )
    parser.add_argument(
        "--with-mqtt", action="store_true", help="run bench/mqtt_ingest.py alone and during exports"
    )
    parser.add_argument(
        "--mqtt-messages", type=int, default=20000, help="messages per mqtt_ingest run (20000)"
    )
    parser.add_argument(
        "--max-rows-per-second",
        type=int,
        default=0,
        help="the target's throttle for the passes during ingest (0: none)",
    )
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--reuse-db", help="a database kept by --keep-db: skip the set-up and the insert")
    args = parser.parse_args()

    db = args.reuse_db or f"mfg_bench_analytics_{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix=f"{db}_"))
    conf = str(work / "odoo.conf")
    info = None
    try:
        write_conf(conf, db)
        if args.reuse_db:
            target, folder = execute(
                db, ("SELECT id, parquet_folder FROM mfg_analytics_target LIMIT 1", None)
            )[0]
            info = {"target": target, "folder": folder}
            reset_export(db, info)
            n = execute(db, ("SELECT count(*) FROM mfg_message", None))[0][0]
            if n != args.messages:
                raise SystemExit(f"{db} holds {n:,} messages, not {args.messages:,}: pass --messages {n}")
            insert_s = None
        else:
            execute("postgres", (f'CREATE DATABASE "{db}" TEMPLATE "{args.source_db}"', None))
            info, insert_s = set_up(args, db, conf, work)

        log("export (facts, then measures) in an odoo shell")
        alone = odoo_shell(conf, db, EXPORT % info)
        rate = alone["rows"] / alone["export_s"] if alone["export_s"] else 0
        print()
        print(f"analytics export of {args.messages:,} messages (integration facts), {time.strftime('%Y-%m-%d')}, "
              f"nproc {os.cpu_count()}, load before {os.getloadavg()[0]:.1f}")  # fmt: skip
        print("| step | rows | time (s) | rows/s | peak RSS of the exporting process (MB) |")
        print("|---|---|---|---|---|")
        if insert_s:
            print(
                f"| insert (SQL generate_series) | {args.messages:,} | {insert_s:.1f} | {args.messages / insert_s:,.0f} | |"
            )
        print(f"| Odoo started (odoo shell) | | | | {alone['rss_start_mb']} |")
        print(
            f"| export facts → Parquet | {alone['rows']:,} | {alone['export_s']:.1f} | {rate:,.0f} | {alone['rss_export_mb']} |"
        )
        print(f"| measures (DuckDB over the files) | {alone['sla_rows']} SLA rows | {alone['measures_s']:.1f} | | "
              f"{alone['rss_measures_mb']} |")  # fmt: skip
        sys.stdout.flush()

        if args.with_mqtt:
            base_rates, _out = mqtt_ingest(args, "alone")
            stop = threading.Event()
            passes = []

            execute(
                db,
                ("UPDATE mfg_analytics_target SET max_rows_per_second = %s WHERE id = %s",
                 (args.max_rows_per_second, info["target"])),
            )  # fmt: skip

            def export_loop():
                while not stop.is_set():
                    reset_export(db, info)
                    try:
                        passes.append(odoo_shell(conf, db, EXPORT % info))
                    except Exception as exc:  # reported, the loop goes on
                        log(f"export pass failed: {exc}")
                        return
                    log(f"  export pass: {passes[-1]['rows']:,} rows in {passes[-1]['export_s']:.1f}s")

            thread = threading.Thread(target=export_loop, daemon=True)
            thread.start()
            busy_rates, _out = mqtt_ingest(args, "during exports")
            stop.set()
            thread.join(timeout=1800)
            print()
            print(f"MQTT ingest (bench/mqtt_ingest.py --no-e2e --messages {args.mqtt_messages}, received-and-committed, "
                  f"Odoo stopped) alone vs. while {len(passes)} export passes of {args.messages:,} messages ran"
                  f" (throttle: {args.max_rows_per_second or 'none'} rows/s)")  # fmt: skip
            print("| setup | rate alone (/s) | rate during export (/s) | ratio |")
            print("|---|---|---|---|")
            for setup, (_n, r_alone) in base_rates.items():
                r_busy = busy_rates.get(setup, ("", ""))[1]
                try:
                    ratio = float(re.sub(r"[^\d.]", "", r_busy)) / float(re.sub(r"[^\d.]", "", r_alone))
                    ratio_text = f"{ratio:.2f}"
                except ValueError:
                    ratio_text = "?"
                print(f"| {setup} | {r_alone} | {r_busy} | {ratio_text} |")
            if passes:
                rates = [p["rows"] / p["export_s"] for p in passes if p["export_s"]]
                print(f"export passes during ingest: {len(passes)}, rows/s {min(rates):,.0f}–{max(rates):,.0f}, "
                      f"peak RSS {max(p['rss_export_mb'] for p in passes)} MB")  # fmt: skip
    finally:
        if info and args.reuse_db:
            execute(
                db,
                ("UPDATE mfg_analytics_target SET max_rows_per_second = 0 WHERE id = %s", (info["target"],)),
            )
        if info:
            shutil.rmtree(info["folder"], ignore_errors=True)
        if not args.keep_db and not args.reuse_db:
            execute("postgres", (f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)', None))
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
