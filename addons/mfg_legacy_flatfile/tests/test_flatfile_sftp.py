"""Drop folders on an SFTP host: a real SFTP server (paramiko's, tests/sftp_server.py) on
127.0.0.1 and an ephemeral port serves a temporary folder; the backend reads it like a local
drop folder: complete files only, moved to processed/ or error/ on the host, each line once."""

import io
import json
import os
import shutil
import tempfile

import paramiko

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import tagged

from odoo.addons.mfg_integration_base.tests.common import MfgPipelineCase

from ..lib.storage import ConnectionLost
from .sftp_server import SftpTestServer

BACKEND_LOG = "odoo.addons.mfg_legacy_flatfile.models.mfg_backend"
LINES = 100_000


@tagged("post_install", "-at_install")
class TestFlatfileSftp(MfgPipelineCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = tempfile.mkdtemp(prefix="mfg-sftp-test-")  # outside file_roots: a remote host's disk
        cls.addClassCleanup(shutil.rmtree, cls.root, True)
        cls.client_key = paramiko.ECDSAKey.generate()
        cls.server = SftpTestServer(cls.root, client_key=cls.client_key).start()
        cls.addClassCleanup(cls.server.stop)
        env = cls.env
        env["ir.config_parameter"].sudo().set_param("mfg_integration.file_allowed_hosts", "127.0.0.1")
        etype = env.ref("mfg_legacy_flatfile.exchange_type_stock_snapshot")
        cls.fmt = env["mfg.flatfile.format"].create(
            {
                "name": "Stock list (SFTP)",
                "code": "stocklist-sftp",
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
        cls.backend = cls._create_backend(
            "Plant 3 legacy (SFTP)",
            "p3-sftp",
            [etype],
            flatfile_storage="sftp",
            flatfile_sftp_host="127.0.0.1",
            flatfile_sftp_port=cls.server.port,
            flatfile_sftp_user="plant",
            flatfile_sftp_password="s3cret-pass",
            flatfile_sftp_host_key=cls.server.fingerprint,
            flatfile_inbox_path="/drop/inbox",
            flatfile_processed_path="/drop/processed",
            flatfile_error_path="/drop/error",
            flatfile_ready_rule="immediate",
            flatfile_format_ids=[Command.set(cls.fmt.ids)],
        )

    def setUp(self):
        super().setUp()
        self.drop = os.path.join(self.root, "drop")
        shutil.rmtree(self.drop, ignore_errors=True)
        os.makedirs(os.path.join(self.drop, "inbox"))
        self.server.faults.clear()

    # ------------------------------------------------------------------ helpers
    def _put(self, name, lines):
        path = os.path.join(self.drop, "inbox", name)
        with open(path, "w") as out:
            out.write("location,product,lot,quantity\n")
            out.writelines(f"L01,BOLT-{i % 97},,{i}\n" for i in range(1, lines + 1))
        return path

    def _files(self, folder):
        path = os.path.join(self.drop, folder)
        return sorted(os.listdir(path)) if os.path.isdir(path) else []

    def _scan(self):
        self.env.flush_all()
        batches = self.backend._mfg_flatfile_scan()
        self.env.invalidate_all()
        return batches

    def _stored(self, batch):
        """(messages, distinct external ids, distinct lines) of the batch's file."""
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT count(*), count(DISTINCT external_id), count(DISTINCT (headers::jsonb ->> 'line'))
                 FROM mfg_message WHERE backend_id = %s AND correlation_id = %s""",
            (self.backend.id, batch.correlation_id),
        )
        return self.env.cr.fetchone()

    def _scan_cut(self):
        """A scan whose connection is cut: ConnectionLost (raised under the test runner, logged
        in production), and what was stored before the cut stays (no savepoint rolled back,
        as with one transaction per chunk in production)."""
        with self.assertLogs(BACKEND_LOG, "WARNING") as logs:
            try:
                self._scan()
            except ConnectionLost:
                pass
            else:
                self.fail("the connection was not cut")
        self.assertIn("SFTP connection lost", logs.output[0])
        self.env.invalidate_all()

    def _batches(self):
        return self.env["mfg.flatfile.batch"].search([("backend_id", "=", self.backend.id)])

    # ------------------------------------------------------------------ reading
    def test_a_100000_line_file_cut_mid_file_then_read_once_moved_and_recognised_when_dropped_again(self):
        path = self._put("STK_big.csv", LINES)
        size = os.path.getsize(path)
        # the connection drops at the 5th read request: nothing is stored, the file stays
        self.server.faults["drop_after_reads"] = 5
        self._scan_cut()
        self.assertFalse(self._batches())
        self.assertEqual(self._files("inbox"), ["STK_big.csv"])
        self.assertIn("SFTP connection lost", self.backend.flatfile_last_error)
        # the next scan downloads it once (every byte crossed the network once), stores every
        # line once and moves it to processed/ on the host
        sessions = len(self.server.sessions)
        batch = self._scan()
        self.assertEqual(len(self.server.sessions), sessions + 1)
        self.assertEqual(self.server.sessions[-1].bytes_read, size)
        self.assertEqual(
            (batch.state, batch.record_count, batch.message_count, batch.duplicate_count),
            ("done", LINES, LINES, 0),
        )
        self.assertEqual(self._stored(batch), (LINES, LINES, LINES))
        self.assertFalse(self.backend.flatfile_last_error)
        self.assertEqual(self._files("inbox"), [])
        self.assertEqual(self._files("processed"), ["STK_big.csv"])
        self.assertEqual(batch.path, f"sftp://plant@127.0.0.1:{self.server.port}/drop/processed/STK_big.csv")
        # the same file dropped again: recognised by its checksum, nothing stored twice
        shutil.copy(
            os.path.join(self.drop, "processed", "STK_big.csv"),
            os.path.join(self.drop, "inbox", "STK_again.csv"),
        )
        self.assertEqual(self._scan(), batch)
        self.assertEqual((batch.drop_count, batch.message_count), (2, LINES))
        self.assertEqual(self._stored(batch), (LINES, LINES, LINES))
        self.assertEqual(self._files("processed"), ["STK_again.csv", "STK_big.csv"])

    def test_a_cut_after_the_lines_are_stored_but_before_the_move_stores_nothing_twice(self):
        self._put("STK_cut.csv", 50)
        self.server.faults["drop_on_rename"] = True
        self._scan_cut()
        batch = self._batches()
        self.assertEqual((batch.state, batch.message_count, batch.file_moved), ("done", 50, False))
        self.assertEqual(self._files("inbox"), ["STK_cut.csv"])
        self.assertEqual(self._scan(), batch)
        self.assertEqual((batch.message_count, batch.duplicate_count, batch.file_moved), (50, 0, True))
        self.assertEqual(self._stored(batch), (50, 50, 50))
        self.assertEqual(self._files("processed"), ["STK_cut.csv"])

    def test_a_remote_file_resumed_after_a_crash_stores_each_line_once(self):
        """What the next scan does after the Odoo process died mid-file: the batch says 'reading'
        up to some line; the file is downloaded again and read on from there."""
        self._put("STK_resume.csv", 50)
        batch = self._scan()
        self.assertEqual(batch.message_count, 50)
        os.rename(
            os.path.join(self.drop, "processed", "STK_resume.csv"),
            os.path.join(self.drop, "inbox", "STK_resume.csv"),
        )
        self.Message.search([("correlation_id", "=", batch.correlation_id)]).filtered(
            lambda m: json.loads(m.headers)["line"] > 31
        ).unlink()
        batch.write(
            {
                "state": "reading",
                "last_line": 31,
                "file_moved": False,
                "message_count": 30,
                "record_count": 30,
            }
        )
        self.assertEqual(self._scan(), batch)
        self.assertEqual((batch.state, batch.message_count, batch.duplicate_count), ("done", 50, 0))
        self.assertEqual(self._stored(batch), (50, 50, 50))

    def test_a_link_in_the_remote_inbox_is_set_aside_not_followed(self):
        secret = os.path.join(self.root, "secret.csv")
        with open(secret, "w") as out:
            out.write("location,product,lot,quantity\nL01,BOLT-1,,1\n")
        os.symlink(secret, os.path.join(self.drop, "inbox", "STK_link.csv"))
        self.assertFalse(self._scan())
        self.assertFalse(self._batches())
        self.assertEqual(self._files("error"), ["STK_link.csv", "STK_link.csv.errors.csv"])
        self.assertTrue(os.path.islink(os.path.join(self.drop, "error", "STK_link.csv")))

    def test_a_remote_folder_reached_through_a_link_is_refused(self):
        os.symlink(os.path.join(self.drop, "inbox"), os.path.join(self.root, "elsewhere"))
        self.addCleanup(os.unlink, os.path.join(self.root, "elsewhere"))
        self.backend.flatfile_inbox_path = "/elsewhere"
        ok, text = self.backend._mfg_flatfile_list_inbox()
        self.assertFalse(ok)
        self.assertIn("/elsewhere is a symbolic link (links are not followed)", text)

    # ------------------------------------------------------------------ connection
    def test_test_connection_lists_the_remote_inbox_with_a_private_key(self):
        text = io.StringIO()
        self.client_key.write_private_key(text)
        self.backend.write({"flatfile_sftp_password": False, "flatfile_sftp_private_key": text.getvalue()})
        self._put("STK_a.csv", 1)
        self._put("STK_b.csv", 1)
        ok, text = self.backend._mfg_flatfile_list_inbox()
        self.assertTrue(ok, text)
        self.assertEqual(
            text,
            f"Inbox sftp://plant@127.0.0.1:{self.server.port}/drop/inbox/: 2 entries: STK_a.csv, STK_b.csv.",
        )
        ok, text = self.env["mfg.transport.file"]._mfg_test_connection(self.backend)
        self.assertTrue(ok, text)
        self.assertIn("Processed folder /drop/processed", text)

    def test_a_wrong_host_key_is_refused_before_any_credential_is_sent(self):
        self._put("STK_a.csv", 1)
        other = paramiko.ECDSAKey.generate()
        self.backend.flatfile_sftp_host_key = f"127.0.0.1 {other.get_name()} {other.get_base64()}"
        attempts = self.server.auth_attempts
        ok, text = self.backend._mfg_flatfile_list_inbox()
        self.assertFalse(ok)
        self.assertIn(f"127.0.0.1 presented the host key {self.server.fingerprint}, not the pinned one", text)
        self.assertIn("field 'Pinned host key'", text)
        with self.assertLogs(BACKEND_LOG, "ERROR") as logs:
            self.assertFalse(self._scan())
        self.assertIn("not the pinned one", logs.output[0])
        self.assertIn("not the pinned one", self.backend.flatfile_last_error)
        self.assertEqual(self.server.auth_attempts, attempts)
        self.assertEqual(self._files("inbox"), ["STK_a.csv"])
        # pinned again: the next scan reads the file and clears the problem
        self.backend.flatfile_sftp_host_key = self.server.fingerprint
        self.assertEqual(self._scan().message_count, 1)
        self.assertFalse(self.backend.flatfile_last_error)
        self.assertEqual(self._files("processed"), ["STK_a.csv"])

    def test_no_pinned_host_key_shows_the_key_the_host_presented(self):
        self.backend.flatfile_sftp_host_key = False
        ok, text = self.env["mfg.transport.file"]._mfg_test_connection(self.backend)
        self.assertFalse(ok)
        self.assertIn(
            f"no host key is pinned for 127.0.0.1: the host presented {self.server.fingerprint}", text
        )

    def test_a_host_not_allowed_is_refused_without_connecting(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "mfg_integration.file_allowed_hosts", "files.plant9.local"
        )
        self._put("STK_a.csv", 1)
        connections = self.server.connections
        ok, text = self.backend._mfg_flatfile_list_inbox()
        self.assertFalse(ok)
        self.assertIn("127.0.0.1 is not an allowed file host", text)
        self.assertIn("[mfg_integration] file_allowed_hosts", text)
        with self.assertLogs(BACKEND_LOG, "ERROR"):
            self.assertFalse(self._scan())
        self.assertEqual(self.server.connections, connections)
        self.assertEqual(self._files("inbox"), ["STK_a.csv"])

    def test_wrong_credentials_are_named(self):
        self.backend.flatfile_sftp_password = "wrong"
        ok, text = self.backend._mfg_flatfile_list_inbox()
        self.assertFalse(ok)
        self.assertIn("127.0.0.1 refused the credentials of user plant", text)

    def test_credentials_are_readable_by_system_administrators_only(self):
        manager = self._create_user(
            "SFTP manager", "sftp-manager", [self.env.ref("mfg_integration_base.group_mfg_manager")]
        )
        backend = self.backend.with_user(manager)
        self.assertEqual(backend.flatfile_sftp_host, "127.0.0.1")
        for fname in ("flatfile_sftp_password", "flatfile_sftp_private_key", "flatfile_sftp_host_key"):
            with self.assertRaises(AccessError):
                backend.read([fname])

    # ------------------------------------------------------------------ outbound
    def test_an_export_is_written_to_the_remote_outbox(self):
        self.backend.flatfile_outbox_path = "/drop/outbox"
        message = self.Message.create(
            {
                "backend_id": self.backend.id,
                "company_id": self.backend.company_id.id,
                "exchange_type_id": self.env.ref("mfg_legacy_flatfile.exchange_type_stock_snapshot").id,
                "direction": "outbound",
                "payload": json.dumps(
                    {
                        "format": self.fmt.code,
                        "filename": "STK_out.csv",
                        "records": [{"location": "L01", "product": "BOLT-8", "lot": "", "quantity": 3}],
                    }
                ),
            }
        )
        answer = self.env["mfg.transport.file"]._mfg_send(message)
        self.assertEqual(
            answer, f"wrote 1 records to sftp://plant@127.0.0.1:{self.server.port}/drop/outbox/STK_out.csv"
        )
        self.assertEqual(self._files("outbox"), ["STK_out.csv"])
        with open(os.path.join(self.drop, "outbox", "STK_out.csv")) as fh:
            self.assertIn("L01,BOLT-8,,3", fh.read())
