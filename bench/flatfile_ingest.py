"""Flat-file ingest benchmark: our streaming drop-folder reader vs. Odoo's own CSV import.

    ~/.cache/mfg-hub/venv/bin/python bench/flatfile_ingest.py [--sizes 10000,100000,1000000]
                                                             [--base-import-max 100000] [--keep-db]

Self-contained, everything on this machine:

1. writes an Odoo config with setup/lib.sh's ``mfg_write_conf`` and creates the throwaway database
   ``mfg_bench_ff_<pid>`` with ``odoo -i mfg_legacy_flatfile,base_import --stop-after-init``;
2. writes one CSV per size (``location,product,lot,quantity``, 30 bytes a line);
3. ours: for each size a fresh ``odoo shell`` process drops the file in a backend's inbox and
   runs the inbox scan (``backend._mfg_flatfile_scan()``, the cron's code): the file is streamed,
   every line becomes a validated ``mfg.message`` row, committed every 1,000 records. The messages'
   exchange type waits for the batch cron, so only reading + storing is measured (applying is
   the drain's business, measured by bench/mqtt_ingest.py);
4. Odoo's base_import: for each size up to ``--base-import-max`` a fresh ``odoo shell`` process
   imports the same file the way the import screen does (``base_import.import.execute_import``
   in batches of 2,000 rows, one commit per batch) into ``res.partner`` (name, ref, city, comment:
   plain fields, no lookups) — the closest Odoo-native "one row, one record" path;
5. prints one table: wall time, lines/s, the process's peak RSS and its growth over the RSS once
   Odoo was loaded (``ru_maxrss`` and ``/proc/self/status``), then drops the database.

Numbers are for comparing the two paths on the same machine, not a target. Memory growth is the
point of interest: ours reads line by line, so it must stay flat as the file grows.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HUB = Path(
    os.environ.get("MFG_HUB_HOME")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mfg-hub"
)
ODOO_BIN = HUB / "venv" / "bin" / "odoo"

PROBE = """
import json, resource, time
def rss_kb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
env.cr.commit()
baseline = rss_kb()
"""

OURS = (
    PROBE
    + """
from odoo import Command
code = "bench-ff"
etype = env["mfg.exchange.type"].search([("code", "=", "bench.stock_list")])
if not etype:
    etype = env["mfg.exchange.type"].create({
        "name": "Bench stock list", "code": "bench.stock_list", "version": 1, "direction": "inbound",
        "json_schema": env.ref("mfg_legacy_flatfile.exchange_type_stock_snapshot").json_schema,
        "handler_model": "mfg.flatfile.handlers", "handler_method": "_mfg_handle_legacy_stock_snapshot",
        "sync_class": "batch"})
fmt = env["mfg.flatfile.format"].search([("code", "=", code)])
if not fmt:
    fmt = env["mfg.flatfile.format"].create({
        "name": "Bench stock list", "code": code, "filename_pattern": "*.csv", "header_rows": 1,
        "exchange_type_id": etype.id,
        "column_ids": [Command.create({"sequence": i, "field_name": f, "column_index": i + 1, "field_type": t})
                       for i, (f, t) in enumerate([("location", "char"), ("product", "char"),
                                                   ("lot", "char"), ("quantity", "float")])]})
backend = env["mfg.backend"].create({
    "name": "Bench %(size)s", "code": "bench-%(size)s-%(stamp)s",
    "flatfile_inbox_path": "%(inbox)s", "flatfile_processed_path": "%(done)s",
    "flatfile_error_path": "%(error)s", "flatfile_ready_rule": "immediate",
    "flatfile_format_ids": [Command.set(fmt.ids)], "flow_ids": [Command.create({"exchange_type_id": etype.id})]})
env.cr.commit()
start = time.monotonic()
backend._mfg_flatfile_scan()
seconds = time.monotonic() - start
env.cr.commit()  # a fresh snapshot: the scan committed on cursors of its own
env.cr.execute("SELECT count(*) FROM mfg_message WHERE backend_id = %%s", (backend.id,))
stored = env.cr.fetchone()[0]
print("BENCH " + json.dumps({"seconds": seconds, "rows": stored, "baseline_kb": baseline,
      "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""
)

BASE_IMPORT = (
    PROBE
    + """
with open("%(path)s", "rb") as fh:
    data = fh.read()
wizard = env["base_import.import"].create({"res_model": "res.partner", "file": data,
                                           "file_name": "bench.csv", "file_type": "text/csv"})
env.cr.commit()
options = {"quoting": '"', "separator": ",", "has_headers": True, "encoding": "utf-8",
           "date_format": "", "datetime_format": "", "float_thousand_separator": ",",
           "float_decimal_separator": ".", "fields": [], "limit": 2000, "skip": 0}
start = time.monotonic()
errors = 0
while True:
    result = wizard.execute_import(["city", "name", "ref", "comment"],
                                   ["location", "product", "lot", "quantity"], dict(options))
    errors += len([m for m in result.get("messages", []) if m.get("type") == "error"])
    env.cr.commit()
    if not result.get("nextrow"):
        break
    options["skip"] = result["nextrow"]
seconds = time.monotonic() - start
env.cr.execute("SELECT count(*) FROM res_partner WHERE city LIKE 'L%%' AND name LIKE 'PART-%%'")
print("BENCH " + json.dumps({"seconds": seconds, "rows": env.cr.fetchone()[0], "errors": errors,
      "baseline_kb": baseline, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
env.cr.execute("DELETE FROM res_partner WHERE city LIKE 'L%%' AND name LIKE 'PART-%%'")
env.cr.commit()
"""
)


def log(text):
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def sh(script, *args, timeout=120):
    return subprocess.run(
        ["bash", "-c", f'. "{ROOT}/setup/lib.sh"; {script}', "bench", *args],
        check=True,
        timeout=timeout,
        capture_output=True,
        text=True,
    )


def write_csv(path, lines):
    with open(path, "w") as out:
        out.write("location,product,lot,quantity\n")
        chunk = []
        for i in range(lines):
            chunk.append(f"L{i % 40:02d},PART-{i % 997},LOT-{i % 89},{i % 13}\n")
            if len(chunk) == 10000:
                out.write("".join(chunk))
                chunk = []
        out.write("".join(chunk))


def odoo_shell(conf, db, script, timeout):
    proc = subprocess.run(
        [str(ODOO_BIN), "shell", "-c", str(conf), "-d", db, "--no-http", "--log-level=warn"],
        input=script,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise RuntimeError(
        f"odoo shell gave no result (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    )


def human(n):
    return f"{n / 1_000_000:g}M" if n >= 1_000_000 else f"{n / 1000:g}k"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="lines per file, comma separated")
    parser.add_argument(
        "--base-import-max", type=int, default=100000, help="largest file given to base_import"
    )
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    work = Path(tempfile.mkdtemp(prefix="mfg-bench-ff-"))
    db = f"mfg_bench_ff_{os.getpid()}"
    conf = work / "odoo.conf"
    sh(
        'MFG_EXTRA_ADDONS_PATH="$MFG_ROOT/tests/addons" MFG_FILE_ROOTS="$3" '
        'mfg_write_conf "$1" "$2" "max_cron_threads = 0"',
        str(conf),
        db,
        str(work),  # the drop folders of the runs lie under it ([mfg_integration] file_roots)
    )
    log(f"creating database {db}")
    subprocess.run(
        [
            str(ODOO_BIN),
            "-c",
            str(conf),
            "-d",
            db,
            "-i",
            "mfg_legacy_flatfile,base_import",
            "--stop-after-init",
            "--without-demo=all",
            "--log-level=warn",
        ],
        check=True,
        timeout=900,
    )
    rows = []
    try:
        for size in sizes:
            folder = work / f"run{size}"
            for sub in ("inbox", "done", "error"):
                (folder / sub).mkdir(parents=True)
            path = folder / "inbox" / f"STOCK_{size}.csv"
            write_csv(path, size)
            mb = path.stat().st_size / 1e6
            log(f"{human(size)} lines ({mb:.1f} MB): ours")
            stamp = int(time.time())
            ours = odoo_shell(
                conf,
                db,
                OURS
                % {
                    "size": size,
                    "stamp": stamp,
                    "inbox": folder / "inbox",
                    "done": folder / "done",
                    "error": folder / "error",
                },
                timeout=3600,
            )
            theirs = None
            if size <= args.base_import_max:
                copy = work / f"import{size}.csv"
                write_csv(copy, size)
                log(f"{human(size)} lines: base_import")
                theirs = odoo_shell(conf, db, BASE_IMPORT % {"path": copy}, timeout=7200)
            rows.append((size, mb, ours, theirs))
    finally:
        if not args.keep_db:
            sh('mfg_drop_db "$1"', db)
    print()
    print(
        f"Flat-file ingest, {os.cpu_count()} cores; peak = process peak RSS, growth = peak - RSS once Odoo was loaded"
    )
    print()
    head = ("lines", "file", "path", "seconds", "lines/s", "peak RSS", "growth", "rows stored")
    line = "| " + " | ".join(head) + " |"
    print(line)
    print("|" + "|".join("---" for _ in head) + "|")
    for size, mb, ours, theirs in rows:
        for label, res in (
            ("ours: drop folder → messages", ours),
            ("Odoo base_import → res.partner", theirs),
        ):
            if res is None:
                cells = (
                    human(size),
                    f"{mb:.0f} MB",
                    label,
                    "not run",
                    "",
                    "",
                    "",
                    f"(> --base-import-max {human(args.base_import_max)})",
                )
            else:
                cells = (
                    human(size),
                    f"{mb:.1f} MB",
                    label,
                    f"{res['seconds']:.1f}",
                    f"{size / res['seconds']:,.0f}",
                    f"{res['peak_kb'] / 1024:.0f} MB",
                    f"{(res['peak_kb'] - res['baseline_kb']) / 1024:+.0f} MB",
                    f"{res['rows']:,}",
                )
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
