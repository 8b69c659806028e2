"""Drop folders and exports stay under the configured roots; links are never followed.

Each test checks the file system afterwards: the file outside the roots is unread and
unchanged, nothing is written outside.
"""

import os
import shutil
import tempfile
import time

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import new_test_user, tagged

from odoo.addons.mfg_integration_base.lib.safe_files import PathRefused, check_folder

from .common import FlatfileCase

SCAN_LOGGER = "odoo.addons.mfg_legacy_flatfile.models.mfg_backend"
SECRET = "L01,BOLT-8,,4711 secret-of-the-server\n"


@tagged("post_install", "-at_install")
class TestFlatfilePaths(FlatfileCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stock_list = cls.env["mfg.flatfile.format"].create(
            {
                "name": "Stock list (paths)",
                "code": "stocklist-paths",
                "filename_pattern": "STK_*.csv",
                "header_rows": 1,
                "exchange_type_id": cls.etype["stock_snapshot"].id,
                "column_ids": [
                    Command.create({"sequence": 1, "field_name": "location", "column_index": 1}),
                    Command.create({"sequence": 2, "field_name": "product", "column_index": 2}),
                    Command.create({"sequence": 3, "field_name": "lot", "column_index": 3}),
                    Command.create(
                        {"sequence": 4, "field_name": "quantity", "field_type": "float", "column_index": 4}
                    ),
                ],
            }
        )
        cls.backend.flatfile_format_ids = cls.stock_list
        cls.items_out = cls.env["mfg.flatfile.format"].create(
            {
                "name": "Items out (paths)",
                "code": "items-out-paths",
                "direction": "outbound",
                "filename_pattern": "ITEMS.csv",
                "column_ids": [Command.create({"sequence": 1, "field_name": "code", "column_index": 1})],
            }
        )
        cls.backend.flow_ids = [
            Command.create(
                {
                    "exchange_type_id": cls.env.ref("mfg_legacy_flatfile.exchange_type_item_master").id,
                    "transport": "file",
                }
            )
        ]
        cls.manager = new_test_user(
            cls.env,
            login="mfg-paths-manager",
            groups="mfg_integration_base.group_mfg_manager,stock.group_stock_user",
        )

    def setUp(self):
        super().setUp()
        # a folder of the server outside every root (tempfile's own folder, e.g. /tmp)
        self.outside = tempfile.mkdtemp(prefix="mfg-outside-")
        self.addCleanup(shutil.rmtree, self.outside, True)
        with self.assertRaises(PathRefused):
            check_folder(self.outside)
        self.secret = os.path.join(self.outside, "STK_secret.csv")
        with open(self.secret, "w") as out:
            out.write("location,product,lot,quantity\n" + SECRET)
        past = time.time() - 3600  # complete by every rule: only the roots and links keep it out
        os.utime(self.secret, (past, past))
        self.flow = self.backend.flow_ids.filtered(lambda f: f.transport == "file")

    def _outside_untouched(self):
        self.assertEqual(sorted(os.listdir(self.outside)), ["STK_secret.csv"])
        with open(self.secret) as fh:
            self.assertEqual(fh.read(), "location,product,lot,quantity\n" + SECRET)

    def _no_secret_stored(self):
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT count(*) FROM mfg_message WHERE payload LIKE %s", ("%secret-of-the-server%",)
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0)

    def _export(self):
        export = self.env["mfg.flatfile.export"].create(
            {
                "name": "Items",
                "backend_id": self.backend.id,
                "kind": "item_master",
                "format_id": self.items_out.id,
            }
        )
        message = export._mfg_run()
        self._drain("outbound")
        return message

    # ------------------------------------------------------------------ save time
    def test_a_manager_cannot_name_a_folder_outside_the_roots(self):
        self.assertFalse(self.manager.has_group("base.group_system"))
        backend = self.backend.with_user(self.manager)
        cases = {
            "flatfile_inbox_path": self.outside,
            "flatfile_processed_path": os.path.join(self.root, "..", "..", "processed"),
            "flatfile_error_path": "../../../error",
            "flatfile_outbox_path": os.path.expanduser("~/.ssh"),
        }
        for field, value in cases.items():
            with self.subTest(field=field), self.assertRaises(ValidationError) as caught:
                backend.write({field: value})
            label = self.backend._fields[field].string
            self.assertIn(label, str(caught.exception))
            self.assertIn(value, str(caught.exception))
            self.assertIn("file_roots", str(caught.exception))
        with self.assertRaisesRegex(ValidationError, "Endpoint.*outside the folders"):
            self.flow.with_user(self.manager).endpoint = self.outside
        for pattern in ("../../ITEMS_%Y.csv", "/tmp/ITEMS.csv", "ITEMS_%D.csv", "..", "A\x00.csv"):
            with self.subTest(pattern=pattern), self.assertRaisesRegex(ValidationError, "File name pattern"):
                self.items_out.with_user(self.manager).filename_pattern = pattern
        # the settings administrator is held to the roots as well (they are the server's, see README)
        with self.assertRaisesRegex(ValidationError, "outside the folders"):
            self.backend.with_user(self.env.ref("base.user_admin")).flatfile_outbox_path = self.outside
        # folders under the root, absolute or relative to it, are fine
        self.backend.with_user(self.manager).flatfile_outbox_path = os.path.join(self.root, "outbox")
        self.flow.with_user(self.manager).endpoint = os.path.relpath(
            os.path.join(self.root, "out2"), os.path.dirname(self.root)
        )
        self._outside_untouched()

    def test_a_folder_reached_through_a_link_is_refused(self):
        os.symlink(self.outside, os.path.join(self.root, "plant9"))
        with self.assertRaisesRegex(ValidationError, "symbolic link"):
            self.backend.flatfile_inbox_path = os.path.join(self.root, "plant9")
        # saved before this check existed (or the link planted since): refused when used
        self.env.cr.execute(
            "UPDATE mfg_backend SET flatfile_inbox_path = %s WHERE id = %s",
            (os.path.join(self.root, "plant9"), self.backend.id),
        )
        self.env.invalidate_all()
        with self.assertLogs(SCAN_LOGGER, "ERROR") as logs:
            self.assertFalse(self._scan())
        self.assertIn("is a symbolic link", logs.output[0])
        self._outside_untouched()
        self._no_secret_stored()

    # ------------------------------------------------------------------ use time
    def test_an_inbox_outside_the_roots_is_not_read(self):
        self.env.cr.execute(
            "UPDATE mfg_backend SET flatfile_inbox_path = %s WHERE id = %s", (self.outside, self.backend.id)
        )
        self.env.invalidate_all()
        with self.assertLogs(SCAN_LOGGER, "ERROR") as logs:
            self.assertFalse(self._scan())
        self.assertIn("is outside the folders this server allows", logs.output[0])
        self._outside_untouched()
        self._no_secret_stored()

    def test_an_export_never_writes_outside_the_roots(self):
        self.env.cr.execute(
            "UPDATE mfg_backend_flow SET endpoint = %s WHERE id = %s", (self.outside, self.flow.id)
        )
        self.env.invalidate_all()
        message = self._export()
        self.assertEqual(message.state, "failed")
        self.assertIn("outside the folders", message.error_message)
        self._outside_untouched()
        # a file name climbing out of the outbox
        self.env.cr.execute("UPDATE mfg_backend_flow SET endpoint = NULL WHERE id = %s", (self.flow.id,))
        self.backend.flatfile_outbox_path = os.path.join(self.root, "outbox")
        escape = os.path.relpath(os.path.join(self.outside, "ITEMS.csv"), os.path.join(self.root, "outbox"))
        self.env.cr.execute(
            "UPDATE mfg_flatfile_format SET filename_pattern = %s WHERE id = %s", (escape, self.items_out.id)
        )
        self.env.invalidate_all()
        message = self._export()
        self.assertEqual(message.state, "failed")
        self.assertIn("folder separator", message.error_message)
        self._outside_untouched()

    def test_an_export_replaces_a_planted_link_never_its_target(self):
        outbox = os.path.join(self.root, "outbox")
        os.makedirs(outbox)
        self.backend.flatfile_outbox_path = outbox
        os.symlink(self.secret, os.path.join(outbox, "ITEMS.csv"))
        os.symlink(self.secret, os.path.join(outbox, ".ITEMS.csv.tmp"))  # the old fixed temporary name
        message = self._export()
        self.assertEqual(message.state, "done", message.error_message)
        self._outside_untouched()
        self.assertFalse(os.path.islink(os.path.join(outbox, "ITEMS.csv")))
        with open(os.path.join(outbox, "ITEMS.csv")) as fh:
            self.assertIn("BOLT-8", fh.read())

    # ------------------------------------------------------------------ links in the inbox
    def test_a_link_in_the_inbox_to_an_outside_file_is_not_read(self):
        os.symlink(self.secret, os.path.join(self.inbox, "STK_link.csv"))
        self._drop("STK_real.csv", "location,product,lot,quantity\nL01,BOLT-8,,3\n")
        batches = self._scan()
        self.assertEqual(batches.mapped("name"), ["STK_real.csv"])
        self._outside_untouched()
        self._no_secret_stored()
        # the link is moved aside (the link itself) and reported
        self.assertEqual(os.listdir(self.inbox), [])
        self.assertEqual(self._files("error"), ["STK_link.csv", "STK_link.csv.errors.csv"])
        self.assertTrue(os.path.islink(os.path.join(self.root, "error", "STK_link.csv")))
        with open(os.path.join(self.root, "error", "STK_link.csv.errors.csv"), encoding="utf-8") as fh:
            report = fh.read()
        self.assertIn("symbolic link", report)
        self.assertNotIn("secret-of-the-server", report)

    def test_a_link_planted_at_the_report_path_never_overwrites_its_target(self):
        error = os.path.join(self.root, "error")
        os.makedirs(error)
        os.symlink(self.secret, os.path.join(error, "STK_bad.csv.errors.csv"))
        os.symlink(self.secret, os.path.join(error, "README.pdf.errors.csv"))
        self._drop("STK_bad.csv", "location,product,lot,quantity\nL01,BOLT-8,,a lot\n")
        self._drop("README.pdf", b"%PDF-1.4")
        self._scan()
        self._outside_untouched()
        for name in ("STK_bad.csv.errors.csv", "README.pdf.errors.csv"):
            path = os.path.join(error, name)
            self.assertFalse(os.path.islink(path), name)
            with open(path, encoding="utf-8-sig") as fh:
                self.assertIn("rejected", fh.read())

    def test_nothing_is_read_while_the_processed_folder_is_a_link(self):
        os.symlink(self.outside, os.path.join(self.root, "processed"))
        self._drop("STK_ok.csv", "location,product,lot,quantity\nL01,BOLT-8,,3\n")
        with self.assertLogs(SCAN_LOGGER, "ERROR") as logs:
            self.assertFalse(self._scan())
        self.assertIn("processed is a symbolic link", logs.output[0])
        self._outside_untouched()
        self.assertEqual(os.listdir(self.inbox), ["STK_ok.csv"], "left in the inbox, not moved outside")
