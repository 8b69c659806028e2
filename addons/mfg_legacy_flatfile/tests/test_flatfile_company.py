from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import FlatfileCase


@tagged("post_install", "-at_install")
class TestFlatfileCompanies(FlatfileCase):
    """A user of another company sees none of this plant's snapshot lines, nor which Odoo
    records its messages touched."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_company = cls.env["res.company"].create({"name": "Plant B Manufacturing (files)"})
        cls.other_user = new_test_user(
            cls.env,
            login="mfg-files-other-company",
            groups="mfg_integration_base.group_mfg_manager,stock.group_stock_user",
            company_id=cls.other_company.id,
            company_ids=[Command.set(cls.other_company.ids)],
        )
        cls.backend.flatfile_format_ids = cls.env["mfg.flatfile.format"].create(
            {
                "name": "Stock list (companies)",
                "code": "stocklist-companies",
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

    def test_other_company_sees_no_snapshot_line_and_no_message_record(self):
        self._drop("STK_company.csv", "location,product,lot,quantity\nL01,BOLT-8,,3\n")
        batch = self._scan()
        self._drain_all()
        message = self._messages(batch)
        self.assertEqual(message.state, "done", message.error_message)
        snapshot = self.env["mfg.stock.snapshot"].search([("name", "=", batch.correlation_id)])
        line = snapshot.line_ids
        self.assertEqual(len(line), 1)
        record = self.env["mfg.message.record"].create(
            {"message_id": message.id, "res_model": "mfg.stock.snapshot", "res_id": snapshot.id}
        )
        self.env.flush_all()
        Line = self.env["mfg.stock.snapshot.line"].with_user(self.other_user)
        Record = self.env["mfg.message.record"].with_user(self.other_user)
        self.assertFalse(Line.search([("id", "=", line.id)]))
        self.assertFalse(Record.search([("id", "in", (record | message.record_ids).ids)]))
        self.assertFalse(
            Record.search([("res_model", "=", "mfg.stock.snapshot"), ("res_id", "=", snapshot.id)])
        )
        with self.assertRaises(AccessError):
            Line.browse(line.id).read(["quantity"])
        with self.assertRaises(AccessError):
            Record.browse(record.id).read(["res_model", "res_id"])
        # the plant's own company still sees both
        own = new_test_user(
            self.env,
            login="mfg-files-own-company",
            groups="mfg_integration_base.group_mfg_user,stock.group_stock_user",
        )
        self.assertEqual(
            self.env["mfg.stock.snapshot.line"].with_user(own).search([("id", "=", line.id)]), line
        )
        self.assertEqual(
            self.env["mfg.message.record"].with_user(own).search([("id", "=", record.id)]), record
        )
