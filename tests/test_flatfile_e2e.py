"""End-to-end: a big drop-folder file, an Odoo process killed while reading it, a restart."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg2
import psycopg2.errors
import pytest

LINES = 100_000


@pytest.fixture
def legacy_plant(odoo_env, sql):
    """A backend with drop folders and a stock-list format whose messages wait for the batch
    cron (the test counts stored lines; applying 100,000 of them is not its point)."""
    code = f"ff-{uuid.uuid4().hex[:8]}"
    with odoo_env() as env:
        from odoo import Command

        from odoo.addons.mfg_integration_base.lib.safe_files import configured_roots

        # drop folders lie under the server's file_roots (setup/lib.sh: <data_dir>/mfg_files)
        os.makedirs(configured_roots()[0], exist_ok=True)
        tmp_path = Path(tempfile.mkdtemp(prefix="mfg-e2e-ff-", dir=configured_roots()[0]))
        for folder in ("inbox", "processed", "error"):
            (tmp_path / folder).mkdir()

        etype = env["mfg.exchange.type"].create(
            {
                "name": f"E2E stock list {code}",
                "code": f"e2e.stock_list_{code.replace('-', '_')}",
                "version": 1,
                "direction": "inbound",
                "json_schema": env.ref("mfg_legacy_flatfile.exchange_type_stock_snapshot").json_schema,
                "handler_model": "mfg.flatfile.handlers",
                "handler_method": "_mfg_handle_legacy_stock_snapshot",
                "sync_class": "batch",
            }
        )
        fmt = env["mfg.flatfile.format"].create(
            {
                "name": f"E2E stock list {code}",
                "code": code,
                "filename_pattern": "STK_*.csv",
                "header_rows": 1,
                "exchange_type_id": etype.id,
                "column_ids": [
                    Command.create(
                        {"sequence": i, "field_name": name, "column_index": i + 1, "field_type": ftype}
                    )
                    for i, (name, ftype) in enumerate(
                        [("location", "char"), ("product", "char"), ("lot", "char"), ("quantity", "float")]
                    )
                ],
            }
        )
        backend = env["mfg.backend"].create(
            {
                "name": f"E2E legacy {code}",
                "code": code,
                "flatfile_inbox_path": str(tmp_path / "inbox"),
                "flatfile_processed_path": str(tmp_path / "processed"),
                "flatfile_error_path": str(tmp_path / "error"),
                "flatfile_ready_rule": "immediate",
                "flatfile_format_ids": [Command.set(fmt.ids)],
                "flow_ids": [Command.create({"exchange_type_id": etype.id})],
            }
        )
        cron = env.ref("mfg_legacy_flatfile.ir_cron_mfg_flatfile_scan")
        info = {"backend_id": backend.id, "etype_id": etype.id, "cron_id": cron.id, "path": tmp_path}
    # Only this test's processes read the inbox (a server of the session would otherwise).
    sql("UPDATE ir_cron SET active = false WHERE id = %s", (info["cron_id"],))
    try:
        yield info
    finally:
        sql("UPDATE ir_cron SET active = true WHERE id = %s", (info["cron_id"],))
        # The session's server may still be draining these messages: a deadlock between this
        # DELETE and a drain's outcome write is possible (either side may be the victim); the
        # DELETE is simply done again until it goes through.
        for attempt in range(10):
            try:
                sql("DELETE FROM mfg_message WHERE backend_id = %s", (info["backend_id"],))
                break
            except psycopg2.errors.TransactionRollbackError:
                if attempt == 9:
                    raise
        sql("DELETE FROM mfg_flatfile_batch WHERE backend_id = %s", (info["backend_id"],))
        shutil.rmtree(tmp_path, ignore_errors=True)


def _reader(odoo_settings, backend_id, log):
    """An Odoo process (odoo shell) that reads the inbox of the backend."""
    script = f"env['mfg.backend'].browse({backend_id})._mfg_flatfile_scan()\nenv.cr.commit()\n"
    return subprocess.Popen(
        [
            odoo_settings["odoo_bin"],
            "shell",
            "-c",
            odoo_settings["conf"],
            "-d",
            odoo_settings["db"],
            "--no-http",
            f"--logfile={log}",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    ), script


def test_kill_9_while_reading_a_100k_line_file_then_restart(legacy_plant, odoo_settings, sql):
    path = legacy_plant["path"] / "inbox" / "STK_100k.csv"
    with open(path, "w") as out:
        out.write("location,product,lot,quantity\n")
        for i in range(LINES):
            out.write(f"L{i % 40:02d},PART-{i % 997},,{i % 13}\n")
    backend_id = legacy_plant["backend_id"]
    log = legacy_plant["path"] / "reader.log"

    proc, script = _reader(odoo_settings, backend_id, log)
    try:
        proc.stdin.write(script.encode())
        proc.stdin.close()
        deadline = time.monotonic() + 180
        stored = 0
        while time.monotonic() < deadline and proc.poll() is None:
            rows = sql("SELECT record_count FROM mfg_flatfile_batch WHERE backend_id = %s", (backend_id,))
            stored = rows[0][0] or 0 if rows else 0
            if stored >= 20_000:
                break
            time.sleep(0.2)
        assert proc.poll() is None, f"the reader ended before it could be killed:\n{log.read_text()[-3000:]}"
        assert stored >= 20_000, stored
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

    [(state, last_line, messages)] = sql(
        "SELECT state, last_line, message_count FROM mfg_flatfile_batch WHERE backend_id = %s", (backend_id,)
    )
    assert state == "reading" and 20_000 <= last_line < LINES + 1, (state, last_line)
    assert path.exists(), "the file left the inbox before it was read"
    stored_now = sql("SELECT count(*) FROM mfg_message WHERE backend_id = %s", (backend_id,))[0][0]
    assert stored_now == messages, "the counters and the stored lines disagree after the kill"

    # restart: a new process reads the rest
    proc, script = _reader(odoo_settings, backend_id, legacy_plant["path"] / "reader2.log")
    out, _err = proc.communicate(script.encode(), timeout=600)
    assert proc.returncode == 0

    [(state, records, messages, duplicates, moved)] = sql(
        """SELECT state, record_count, message_count, duplicate_count, file_moved
             FROM mfg_flatfile_batch WHERE backend_id = %s""",
        (backend_id,),
    )
    assert (state, records, messages, duplicates, moved) == ("done", LINES, LINES, 0, True)
    [(count, distinct_lines, first, last)] = sql(
        """SELECT count(*), count(DISTINCT (headers::json->>'line')),
                  min((headers::json->>'line')::int), max((headers::json->>'line')::int)
             FROM mfg_message WHERE backend_id = %s""",
        (backend_id,),
    )
    assert (count, distinct_lines, first, last) == (LINES, LINES, 2, LINES + 1)
    assert not (legacy_plant["path"] / "inbox" / "STK_100k.csv").exists()
    assert (legacy_plant["path"] / "processed" / "STK_100k.csv").exists()
