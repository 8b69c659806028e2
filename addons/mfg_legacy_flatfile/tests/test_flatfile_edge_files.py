"""Whole files forwarded by the plant's edge agent on <root>/files/<percent-encoded name>: the
listener's claim (lib/edge_files.py) fed directly with the bytes, the file written atomically
into the inbox (server folder, and an SFTP host), then read by the normal scan with its rules."""

import os
import shutil
import tempfile
from urllib.parse import quote

import paramiko

from odoo import Command
from odoo.tests import tagged
from odoo.tools import config, mute_logger

from odoo.addons.mfg_integration_base.tests.common import MfgPipelineCase
from odoo.addons.mfg_integration_base.transports.mqtt.claims import Services

from ..lib import edge_files
from .common import FlatfileCase
from .sftp_server import SftpTestServer

STOCK = "location;product;lot;quantity\nL01;BOLT-8;;12\nL07;BOLT-8;;30\n"


def stock_format(env, code):
    return env["mfg.flatfile.format"].create(
        {
            "name": f"Stock list {code}",
            "code": code,
            "filename_pattern": "STK_*.csv",
            "header_rows": 1,
            "delimiter": ";",
            "exchange_type_id": env.ref("mfg_legacy_flatfile.exchange_type_stock_snapshot").id,
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


class Item:
    """What the listener hands a claim (claims.ClaimedMessage), with a recording ack."""

    def __init__(self, topic, payload, acks):
        self.topic, self.payload, self.mid, self.qos, self.retain, self.received = (
            topic,
            payload,
            1,
            1,
            False,
            0,
        )
        self.client = self
        self.acks = acks

    def ack(self, mid, qos):
        self.acks.append(self.topic)


class EdgeFilesMixin:
    def _claim(self):
        settings = self.backend._mfg_mqtt_settings()
        return edge_files.EdgeFileClaim(
            self.backend.id, settings["claims"][edge_files.CLAIM], Services(in_db=lambda fn: fn(self.env))
        )

    def _send(self, claim, name, data, acks=None):
        acks = [] if acks is None else acks
        topic = f"{claim.root}/files/{quote(name, safe='')}"
        claim.on_message(Item(topic, data.encode() if isinstance(data, str) else data, acks))
        return acks


@tagged("post_install", "-at_install")
class TestEdgeFilesLocal(EdgeFilesMixin, FlatfileCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fmt = stock_format(cls.env, "stk-edge")
        cls.backend.write(
            {
                "mqtt_enabled": True,
                "plant_code": "P2",
                "system_kind": "other",
                "flatfile_ready_rule": "immediate",
                "flatfile_format_ids": [Command.set(cls.fmt.ids)],
            }
        )

    def test_a_forwarded_file_is_written_acknowledged_read_once(self):
        claim = self._claim()
        self.assertEqual(claim.filters(), ["mfg/P2/other/files/+"])
        acks = self._send(claim, "STK_0301.csv", STOCK)
        self.assertEqual(acks, ["mfg/P2/other/files/STK_0301.csv"], "acknowledged once written")
        self.assertEqual(os.listdir(self.inbox), ["STK_0301.csv"], "no temporary file left")
        with open(os.path.join(self.inbox, "STK_0301.csv"), "rb") as fh:
            self.assertEqual(fh.read(), STOCK.encode())
        # the same file again, while it waits: not written twice
        self._send(claim, "STK_0301.csv", STOCK, acks)
        self.assertEqual(os.listdir(self.inbox), ["STK_0301.csv"])
        batch = self._scan()
        self.assertEqual((batch.state, batch.message_count), ("done", 2))
        self.assertEqual(self._files("processed"), ["STK_0301.csv"])
        # the same file once more (the agent resent it after a cut): recognised by its checksum
        self._send(claim, "STK_0301.csv", STOCK, acks)
        self.assertEqual(os.listdir(self.inbox), [])
        self.assertEqual(len(acks), 3)
        self.assertEqual(claim.stats, {"written": 1, "duplicates": 2, "refused": 0, "retries": 0})
        self.assertEqual(
            len(self.env["mfg.flatfile.batch"].search([("backend_id", "=", self.backend.id)])), 1
        )

    def test_another_file_under_a_waiting_name_replaces_nothing(self):
        claim = self._claim()
        self._send(claim, "STK_0302.csv", STOCK)
        other = STOCK.replace("12", "13")
        self._send(claim, "STK_0302.csv", other)
        names = set(os.listdir(self.inbox))
        self.assertEqual(len(names), 2)
        self.assertIn("STK_0302.csv", names)
        self.assertRegex((names - {"STK_0302.csv"}).pop(), r"^STK_0302\.[0-9a-f]{12}\.csv$")
        batches = self._scan()
        self.assertEqual(len(batches), 2)
        self.assertEqual(sorted(batches.mapped("message_count")), [2, 2])

    def test_names_and_sizes_that_can_never_be_accepted_are_refused_and_said(self):
        claim = self._claim()
        refused = {
            "a/b.csv": "folder separator",
            ".STK_hidden.csv": "hidden name",
            "STK_x.csv.tmp": "temporary or marker",
            "STK_\x01.csv": "control character",
            "S" * 201 + ".csv": "longer than 200",
        }
        with mute_logger(edge_files.__name__):
            for name, reason in refused.items():
                acks = self._send(claim, name, STOCK)
                self.assertEqual(len(acks), 1, "acknowledged: sending it again would change nothing")
                self.assertIn(reason, self.backend.message_ids[:1].body, name)
            acks = []
            claim.on_message(Item(f"{claim.root}/files/%FF%FE.csv", b"x", acks))
            self.assertIn("not percent-encoded UTF-8", self.backend.message_ids[:1].body)
            self.patch(config, "misc", {**config.misc, "mfg_integration": {"edge_file_max_bytes": "10"}})
            claim = self._claim()
            self._send(claim, "STK_big.csv", STOCK)
            self.assertIn("more than the 10 allowed", self.backend.message_ids[:1].body)
        self.assertEqual(os.listdir(self.inbox), [])
        self.assertEqual(claim.stats["refused"], 1)

    def test_marker_rule_gets_its_marker_and_a_missing_inbox_is_retried(self):
        self.backend.flatfile_ready_rule = "marker"
        claim = self._claim()
        shutil.rmtree(self.inbox)
        acks = []
        with mute_logger(edge_files.__name__):
            self._send(claim, "STK_0303.csv", STOCK, acks)
        self.assertEqual(
            (acks, len(claim.pending), claim.stats["retries"]), ([], 1, 1), "kept, not acknowledged"
        )
        os.makedirs(self.inbox)
        claim.flush(0)
        self.assertEqual(len(acks), 1)
        self.assertEqual(sorted(os.listdir(self.inbox)), ["STK_0303.csv", "STK_0303.csv.done"])
        self.assertEqual(self._scan().message_count, 2)


@tagged("post_install", "-at_install")
class TestEdgeFilesSftp(EdgeFilesMixin, MfgPipelineCase):
    """The inbox on an SFTP host: the file is uploaded to a hidden name, then renamed there."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = tempfile.mkdtemp(prefix="mfg-sftp-edge-")
        cls.addClassCleanup(shutil.rmtree, cls.root, True)
        cls.server = SftpTestServer(cls.root, client_key=paramiko.ECDSAKey.generate()).start()
        cls.addClassCleanup(cls.server.stop)
        cls.env["ir.config_parameter"].sudo().set_param("mfg_integration.file_allowed_hosts", "127.0.0.1")
        fmt = stock_format(cls.env, "stk-edge-sftp")
        cls.backend = cls._create_backend(
            "Plant 4 legacy (SFTP)",
            "p4-sftp",
            [cls.env.ref("mfg_legacy_flatfile.exchange_type_stock_snapshot")],
            mqtt_enabled=True,
            plant_code="P4",
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
            flatfile_format_ids=[Command.set(fmt.ids)],
        )
        os.makedirs(os.path.join(cls.root, "drop", "inbox"))

    def test_written_on_the_host_then_read_once(self):
        claim = self._claim()
        acks = self._send(claim, "STK_sftp.csv", STOCK)
        self.assertEqual(len(acks), 1)
        self.assertEqual(os.listdir(os.path.join(self.root, "drop", "inbox")), ["STK_sftp.csv"])
        self.env.flush_all()
        batch = self.backend._mfg_flatfile_scan()
        self.assertEqual((batch.state, batch.message_count), ("done", 2))
        self._send(claim, "STK_sftp.csv", STOCK, acks)
        self.assertEqual(os.listdir(os.path.join(self.root, "drop", "inbox")), [])
        self.assertEqual(claim.stats["duplicates"], 1)
