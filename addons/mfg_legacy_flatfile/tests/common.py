import os
import shutil
import tempfile
import time

from odoo import Command

from odoo.addons.mfg_integration_base.lib.safe_files import configured_roots
from odoo.addons.mfg_integration_base.tests.common import MfgPipelineCase


def make_test_folder(prefix):
    """A new temporary folder under the first configured root ([mfg_integration] file_roots,
    default <data_dir>/mfg_files): drop folders must lie under a root."""
    root = configured_roots()[0]
    os.makedirs(root, exist_ok=True)
    return tempfile.mkdtemp(prefix=prefix, dir=root)


class FlatfileCase(MfgPipelineCase):
    """A plant backend with real drop folders in a temporary directory."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env, ref = cls.env, cls.env.ref
        cls.etype = {
            code: ref(f"mfg_legacy_flatfile.exchange_type_{code}")
            for code in ("stock_movement", "cycle_count", "stock_snapshot")
        }
        cls.warehouse = env["stock.warehouse"].search([("company_id", "=", env.company.id)], limit=1)
        cls.stock = cls.warehouse.lot_stock_id
        cls.shelf = env["stock.location"].create(
            {"name": "Shelf 7", "location_id": cls.stock.id, "barcode": "P2-SHELF7"}
        )
        cls.stock.barcode = cls.stock.barcode or "P2-STOCK"
        cls.supplier = ref("stock.stock_location_suppliers")
        Product = env["product.product"]
        cls.bolt = Product.create({"name": "Bolt", "default_code": "BOLT-8", "is_storable": True})
        cls.steel = Product.create(
            {"name": "Steel coil", "default_code": "COIL-1", "is_storable": True, "tracking": "lot"}
        )
        cls.backend = cls._create_backend(
            "Plant 2 legacy",
            "p2-legacy",
            cls.etype.values(),
            warehouse_id=cls.warehouse.id,
            flatfile_ready_rule="stable",
            flatfile_stable_seconds=5,
        )
        env["mfg.code.mapping"].create(
            [
                {
                    "backend_id": cls.backend.id,
                    "kind": "location",
                    "external_code": "WE",
                    "target": f"stock.location,{cls.supplier.id}",
                },
                {
                    "backend_id": cls.backend.id,
                    "kind": "location",
                    "external_code": "L01",
                    "target": f"stock.location,{cls.stock.id}",
                },
                {
                    "backend_id": cls.backend.id,
                    "kind": "location",
                    "external_code": "L07",
                    "target": f"stock.location,{cls.shelf.id}",
                },
            ]
        )

    def setUp(self):
        super().setUp()
        self.root = make_test_folder("mfg-flatfile-test-")
        self.addCleanup(shutil.rmtree, self.root, True)
        self.inbox = os.path.join(self.root, "inbox")
        os.makedirs(self.inbox)
        self.backend.write(
            {
                "flatfile_inbox_path": self.inbox,
                "flatfile_processed_path": os.path.join(self.root, "processed"),
                "flatfile_error_path": os.path.join(self.root, "error"),
            }
        )

    def _format(self, **vals):
        columns = vals.pop("columns")
        return self.env["mfg.flatfile.format"].create(
            {**vals, "column_ids": [Command.create({"sequence": i, **c}) for i, c in enumerate(columns)]}
        )

    def _drop(self, name, data, age=60):
        """Write a file into the inbox, modified ``age`` seconds ago."""
        path = os.path.join(self.inbox, name)
        with open(path, "wb") as out:
            out.write(data if isinstance(data, bytes) else data.encode())
        past = time.time() - age
        os.utime(path, (past, past))
        return path

    def _scan(self):
        self.env.flush_all()
        batches = self.backend._mfg_flatfile_scan()
        self.env.invalidate_all()
        return batches

    def _messages(self, batch):
        return self.Message.search([("correlation_id", "=", batch.correlation_id)], order="id")

    def _files(self, folder):
        path = os.path.join(self.root, folder)
        return sorted(os.listdir(path)) if os.path.isdir(path) else []
