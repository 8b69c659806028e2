from odoo.tests import tagged

from .common import B2mmlCase, document


@tagged("post_install", "-at_install")
class TestB2mmlMaterial(B2mmlCase):
    """Material information (lot status) and material definitions (item master)."""

    def test_lot_status_blocked_then_released(self):
        if not self.has_quality:
            self.skipTest("mfg_quality_connector is not installed")
        hold = self._receive_doc(document("v0700_sync_material_information_hold.xml"))
        self._drain_all()
        self.assertDone(hold)
        fact = hold.child_ids
        self.assertEqual(fact.exchange_type_id.code, "qms.lot_hold")
        self.assertDone(fact)
        self.assertEqual(self._payload(fact)["reason"], "Crack found at incoming inspection")
        self.assertEqual(self.lot_c1.mfg_hold_state, "held")
        release = self._receive_doc(document("v0401_sync_material_information_release.xml"))
        self._drain_all()
        self.assertDone(release, release.child_ids)
        self.assertEqual(release.child_ids.exchange_type_id.code, "qms.lot_release")
        self.assertEqual(self.lot_c1.mfg_hold_state, "released")

    def test_lot_status_without_flow_fails_the_document(self):
        flows = self.backend.flow_ids.filtered(lambda f: f.exchange_type_id.code == "qms.lot_hold")
        flows.unlink()
        doc = self._receive_doc(document("v0700_sync_material_information_hold.xml"))
        self._drain_all()
        self.assertFailedWith(doc, "business", "no active inbound flow qms.lot_hold")

    def test_material_definition_match_policy(self):
        doc = self._receive_doc(document("v0600_sync_material_definition.xml"))
        self._drain_all()
        self.assertDone(doc)
        known, unknown = self._facts(doc)
        self.assertDone(known)
        self.assertIn(
            ("product.product", self.comp_lot.id), [(r.res_model, r.res_id) for r in known.record_ids]
        )
        self.assertFailedWith(unknown, "mapping", "NEW-9")
        self.assertFalse(self.env["product.product"].search([("default_code", "=", "NEW-9")]))
        # Fixed like any missing mapping (the incident screen adds it), then Retry.
        gasket = self.env["product.product"].create({"name": "Gasket", "default_code": "GSK-ODOO"})
        self.env["mfg.code.mapping"].create(
            {
                "backend_id": self.backend.id,
                "kind": "product",
                "external_code": "NEW-9",
                "target": f"product.product,{gasket.id}",
            }
        )
        unknown.action_retry()
        self._drain_all()
        self.assertDone(unknown)
        self.assertEqual(unknown.record_ids.res_id, gasket.id)

    def test_material_definition_create_policy(self):
        self.backend.b2mml_mapping = '{"item_policy": "create"}'
        doc = self._receive_doc(document("v0600_sync_material_definition.xml"))
        self._drain_all()
        self.assertDone(doc, *doc.child_ids)
        created = self.env["product.product"].search([("default_code", "=", "NEW-9")])
        self.assertEqual(created.name, "Gasket, nitrile")
        self.assertEqual(created.uom_id, self.unit)
        self.assertEqual(self.env["product.product"].search_count([("default_code", "=", "HOUS-1")]), 1)
