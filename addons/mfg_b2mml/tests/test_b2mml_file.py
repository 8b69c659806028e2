import os
from unittest import SkipTest

from odoo import Command
from odoo.modules.registry import Registry
from odoo.tests import tagged
from odoo.tests.common import get_db_name

from .common import document

try:
    from odoo.addons.mfg_legacy_flatfile.tests.common import FlatfileCase
except ImportError:  # pragma: no cover - mfg_legacy_flatfile is not in the addons path
    FlatfileCase = None

if FlatfileCase is not None:

    @tagged("post_install", "-at_install")
    class TestB2mmlFile(FlatfileCase):
        """B2MML documents dropped as files (mfg_legacy_flatfile, format kind 'document')."""

        @classmethod
        def setUpClass(cls):
            if "mfg_legacy_flatfile" not in Registry(get_db_name())._init_modules:
                raise SkipTest("mfg_legacy_flatfile is not installed")
            super().setUpClass()
            ref = cls.env.ref
            cls.env["mfg.backend.flow"].create(
                [
                    {
                        "backend_id": cls.backend.id,
                        "exchange_type_id": ref("mfg_b2mml.exchange_type_b2mml_document").id,
                        "wire_format": "b2mml",
                    },
                    {
                        "backend_id": cls.backend.id,
                        "exchange_type_id": ref("mfg_b2mml.exchange_type_material_definition").id,
                    },
                ]
            )
            fmt = cls.env["mfg.flatfile.format"].create(
                {
                    "name": "MES B2MML files",
                    "code": "b2mml-files",
                    "kind": "document",
                    "filename_pattern": "*.xml",
                    "exchange_type_id": ref("mfg_b2mml.exchange_type_b2mml_document").id,
                }
            )
            cls.backend.write(
                {"b2mml_mapping": '{"item_policy": "create"}', "flatfile_format_ids": [Command.link(fmt.id)]}
            )

        def test_dropped_documents_read_into_facts_hostile_one_rejected(self):
            raw = document("v0600_sync_material_definition.xml")
            self._drop("MD_0001.xml", raw)
            self._drop("MD_0002.xml", document("billion_laughs.xml.hostile"))
            batches = self._scan()
            self.assertEqual(len(batches), 2)
            good, bad = (b for name in ("MD_0001.xml", "MD_0002.xml") for b in batches if b.name == name)
            good_doc, bad_doc = self._messages(good), self._messages(bad)
            self.assertEqual(len(good_doc), 1)
            self.assertEqual(good_doc.wire_format, "b2mml")
            self.assertEqual(good_doc.transport, "file")
            self.assertEqual(good_doc.payload.encode(), raw, "the file kept as it was")
            self.assertEqual(bad_doc.state, "rejected")
            self.assertIn("DOCTYPE", bad_doc.error_message)
            self.assertTrue(
                bad_doc.payload.startswith("<?xml"), "the hostile file kept as it was, unexpanded"
            )
            self._drain_all()
            self.assertDone(good_doc, *good_doc.child_ids)
            self.assertEqual(len(good_doc.child_ids), 2)
            self.assertTrue(self.env["product.product"].search([("default_code", "=", "NEW-9")]))
            self.assertEqual(len(self._files("processed")), 1)
            self.assertTrue(any(f.startswith("MD_0002.xml") for f in self._files("error")))
            # The same file dropped again: recognised, nothing stored twice.
            stored = self._messages(good)
            self.assertEqual(
                stored, good_doc | good_doc.child_ids, "the facts carry the file's correlation id"
            )
            self._drop("MD_0001.xml", raw)
            self._scan()
            self.assertEqual(self._messages(good), stored)
            self.assertTrue(os.path.isdir(os.path.join(self.root, "processed")))
