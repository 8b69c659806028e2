"""The backend's connection test checks the drop folders of the file transport: opened as when
used (under file_roots, no link followed) and written to; nothing is left behind."""

import os
import shutil
import tempfile

from odoo import Command
from odoo.tests import tagged

from .common import FlatfileCase


@tagged("post_install", "-at_install")
class TestFlatfileConnection(FlatfileCase):
    def setUp(self):
        super().setUp()
        self.outside = tempfile.mkdtemp(prefix="mfg-outside-")  # not under any root
        self.addCleanup(shutil.rmtree, self.outside, True)

    def _test(self):
        params = self.backend.action_test_connection()["params"]
        self.assertEqual(params["title"], "Connection test")
        return params

    def test_ready_folders(self):
        self.backend.write(
            {"last_error": "an old failure", "flatfile_outbox_path": os.path.join(self.root, "out")}
        )
        params = self._test()
        self.assertEqual(params["type"], "success", params["message"])
        self.assertIn(f"Inbox folder {self.inbox}", params["message"])
        self.assertIn(
            f"Outbox folder {os.path.join(self.root, 'out')} (created when first used)", params["message"]
        )
        self.assertFalse(self.backend.last_error)
        self.assertEqual(os.listdir(self.inbox), [], "the write probe leaves nothing behind")
        self.assertFalse(os.path.exists(os.path.join(self.root, "out")), "the test creates no folder")

    def test_missing_inbox(self):
        os.rmdir(self.inbox)
        params = self._test()
        self.assertEqual(params["type"], "danger")
        self.assertIn(f"Inbox folder '{self.inbox}' does not exist", params["message"])
        self.assertIn("does not exist", self.backend.last_error)

    def test_a_folder_outside_the_roots_is_refused_and_not_written(self):
        # saved before the save-time check existed
        self.env.cr.execute(
            "UPDATE mfg_backend SET flatfile_outbox_path = %s WHERE id = %s", (self.outside, self.backend.id)
        )
        self.env.invalidate_all()
        params = self._test()
        self.assertEqual(params["type"], "danger")
        self.assertIn("Outbox folder", params["message"])
        self.assertIn("is outside the folders this server allows", self.backend.last_error)
        self.assertEqual(os.listdir(self.outside), [])

    def test_a_link_is_not_followed(self):
        os.rmdir(self.inbox)
        os.symlink(self.outside, self.inbox)
        params = self._test()
        self.assertEqual(params["type"], "danger")
        self.assertIn("symbolic link", params["message"])
        self.assertEqual(os.listdir(self.outside), [], "nothing written through the link")

    def test_the_folders_of_file_flows_are_tested_too(self):
        endpoint = os.path.join(self.root, "exports")
        os.makedirs(endpoint)
        self.backend.flow_ids = [
            Command.create(
                {
                    "exchange_type_id": self.env.ref("mfg_legacy_flatfile.exchange_type_item_master").id,
                    "transport": "file",
                    "endpoint": endpoint,
                }
            )
        ]
        shutil.rmtree(endpoint)
        os.symlink(self.outside, endpoint)
        params = self._test()
        self.assertEqual(params["type"], "danger")
        self.assertIn("Endpoint of flow", params["message"])
        self.assertEqual(os.listdir(self.outside), [])
