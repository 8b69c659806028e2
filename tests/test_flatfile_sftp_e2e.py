"""End-to-end: a drop folder on a real SFTP server (paramiko's, started by the test on 127.0.0.1
and an ephemeral port), read by Odoo processes that commit every 1,000 lines as in production: the
connection cut mid-download, then the reader killed (-9) mid-file, then a restart; every line once."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import psycopg2.errors
import pytest

LINES = 100_000
ALLOWED = "mfg_integration.file_allowed_hosts"


def _sftp_test_server():
    """The addon's test SFTP server, loaded from its file: importing it as
    ``odoo.addons.mfg_legacy_flatfile.tests.sftp_server`` would run that tests package's
    ``__init__`` (Odoo's test modules) inside this process."""
    import importlib.util

    import odoo.addons.mfg_legacy_flatfile as addon

    path = os.path.join(os.path.dirname(addon.__file__), "tests", "sftp_server.py")
    spec = importlib.util.spec_from_file_location("mfg_e2e_sftp_server", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SftpTestServer


@pytest.fixture
def sftp_plant(odoo_env, sql):
    """An SFTP server serving a temporary folder, and a backend whose drop folders are there.
    The server is stopped and everything removed whatever happens."""
    SftpTestServer = _sftp_test_server()

    root = tempfile.mkdtemp(prefix="mfg-e2e-sftp-")
    os.makedirs(os.path.join(root, "drop", "inbox"))
    server = SftpTestServer(root).start()
    code = f"sftp-{uuid.uuid4().hex[:8]}"
    info = None
    try:
        with odoo_env() as env:
            from odoo import Command

            params = env["ir.config_parameter"].sudo()
            allowed_before = params.get_param(ALLOWED, "")
            params.set_param(ALLOWED, "127.0.0.1")
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
                            {"sequence": i, "field_name": name, "column_index": i + 1, "field_type": t}
                        )
                        for i, (name, t) in enumerate(
                            [
                                ("location", "char"),
                                ("product", "char"),
                                ("lot", "char"),
                                ("quantity", "float"),
                            ]
                        )
                    ],
                }
            )
            backend = env["mfg.backend"].create(
                {
                    "name": f"E2E SFTP {code}",
                    "code": code,
                    "flatfile_storage": "sftp",
                    "flatfile_sftp_host": "127.0.0.1",
                    "flatfile_sftp_port": server.port,
                    "flatfile_sftp_user": server.user,
                    "flatfile_sftp_password": server.password,
                    "flatfile_sftp_host_key": server.fingerprint,
                    "flatfile_inbox_path": "/drop/inbox",
                    "flatfile_processed_path": "/drop/processed",
                    "flatfile_error_path": "/drop/error",
                    "flatfile_ready_rule": "immediate",
                    "flatfile_format_ids": [Command.set(fmt.ids)],
                    "flow_ids": [Command.create({"exchange_type_id": etype.id})],
                }
            )
            cron = env.ref("mfg_legacy_flatfile.ir_cron_mfg_flatfile_scan")
            info = {
                "backend_id": backend.id,
                "cron_id": cron.id,
                "root": root,
                "server": server,
                "allowed_before": allowed_before,
            }
        # only this test's processes read the inbox (a server of the session would otherwise)
        sql("UPDATE ir_cron SET active = false WHERE id = %s", (info["cron_id"],))
        yield info
    finally:
        server.stop()
        if info is not None:
            sql("UPDATE ir_cron SET active = true WHERE id = %s", (info["cron_id"],))
            sql(
                "UPDATE ir_config_parameter SET value = %s WHERE key = %s",
                (info["allowed_before"] or "", ALLOWED),
            )
            for attempt in range(10):  # a drain of the session's server may hold these rows
                try:
                    sql("DELETE FROM mfg_message WHERE backend_id = %s", (info["backend_id"],))
                    break
                except psycopg2.errors.TransactionRollbackError:
                    if attempt == 9:
                        raise
            sql("DELETE FROM mfg_flatfile_batch WHERE backend_id = %s", (info["backend_id"],))
        shutil.rmtree(root, ignore_errors=True)


def _reader(odoo_settings, backend_id, log):
    """An Odoo process (odoo shell) that reads the backend's inbox once, committing as in production."""
    proc = subprocess.Popen(
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
    )
    script = f"env['mfg.backend'].browse({backend_id})._mfg_flatfile_scan()\nenv.cr.commit()\n"
    return proc, script


def _tail(path):
    with open(path, errors="replace") as fh:
        return fh.read()[-3000:]


def _last_error(sql, backend_id):
    return sql("SELECT flatfile_last_error FROM mfg_backend WHERE id = %s", (backend_id,))[0][0]


def _batch(sql, backend_id):
    return sql(
        """SELECT state, record_count, message_count, duplicate_count, file_moved, last_line
             FROM mfg_flatfile_batch WHERE backend_id = %s""",
        (backend_id,),
    )


def test_sftp_cut_mid_download_then_kill_9_mid_file_then_restart_stores_every_line_once(
    sftp_plant, odoo_settings, sql
):
    root, server, backend_id = sftp_plant["root"], sftp_plant["server"], sftp_plant["backend_id"]
    inbox = os.path.join(root, "drop", "inbox")
    with open(os.path.join(inbox, "STK_100k.csv"), "w") as out:
        out.write("location,product,lot,quantity\n")
        out.writelines(f"L{i % 40:02d},PART-{i % 997},,{i % 13}\n" for i in range(LINES))
    logs = os.path.join(root, "log")
    os.makedirs(logs)

    # 1. the connection is cut at the 5th read request of the download: nothing stored, file left
    server.faults["drop_after_reads"] = 5
    log = os.path.join(logs, "reader1.log")
    proc, script = _reader(odoo_settings, backend_id, log)
    proc.communicate(script.encode(), timeout=300)
    assert proc.returncode == 0, _tail(log)
    assert "SFTP connection lost" in _tail(log)
    assert "SFTP connection lost" in _last_error(sql, backend_id)
    assert _batch(sql, backend_id) == []
    assert os.listdir(inbox) == ["STK_100k.csv"]

    # 2. the reader is killed (-9) once 20,000 lines are committed
    proc, script = _reader(odoo_settings, backend_id, os.path.join(logs, "reader2.log"))
    try:
        proc.stdin.write(script.encode())
        proc.stdin.close()
        deadline = time.monotonic() + 180
        stored = 0
        while time.monotonic() < deadline and proc.poll() is None:
            rows = _batch(sql, backend_id)
            stored = (rows[0][1] or 0) if rows else 0
            if stored >= 20_000:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the reader ended before it could be killed"
        assert stored >= 20_000, stored
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    [(state, _records, messages, _dups, moved, last_line)] = _batch(sql, backend_id)
    assert state == "reading" and not moved and 20_000 <= last_line <= LINES, (state, moved, last_line)
    assert os.listdir(inbox) == ["STK_100k.csv"]
    stored_now = sql("SELECT count(*) FROM mfg_message WHERE backend_id = %s", (backend_id,))[0][0]
    assert stored_now == messages

    # 3. a new process downloads the file again and reads on from the resume point
    log = os.path.join(logs, "reader3.log")
    proc, script = _reader(odoo_settings, backend_id, log)
    proc.communicate(script.encode(), timeout=600)
    assert proc.returncode == 0, _tail(log)
    assert _last_error(sql, backend_id) is None
    [(state, records, messages, duplicates, moved, _last)] = _batch(sql, backend_id)
    assert (state, records, messages, duplicates, moved) == ("done", LINES, LINES, 0, True)
    [(count, distinct_lines, first, last)] = sql(
        """SELECT count(*), count(DISTINCT (headers::json->>'line')),
                  min((headers::json->>'line')::int), max((headers::json->>'line')::int)
             FROM mfg_message WHERE backend_id = %s""",
        (backend_id,),
    )
    assert (count, distinct_lines, first, last) == (LINES, LINES, 2, LINES + 1)
    assert os.listdir(inbox) == []
    assert os.listdir(os.path.join(root, "drop", "processed")) == ["STK_100k.csv"]
