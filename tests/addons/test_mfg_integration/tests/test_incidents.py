from odoo.tests import tagged

from odoo.addons.mfg_integration_base.lib.error_signature import error_signature

from .common import MfgPipelineCase


@tagged("post_install", "-at_install")
class TestIncidents(MfgPipelineCase):
    def test_500_failures_of_3_kinds_are_3_incidents_and_fix_and_retry_empties_one(self):
        payloads = []
        for i in range(250):  # one missing code mapping
            payloads.append(self._payload(f"map-{i}", order=f"M-{i}", product="GHOST-7"))
        for i in range(150):  # one business rule, a different order each time
            payloads.append(self._payload(f"biz-{i}", order=f"WO-{1000 + i}", fail="business"))
        for i in range(100):  # one programming error
            payloads.append(self._payload(f"bug-{i}", order=f"B-{i}", fail="crash"))
        self._receive(*payloads)
        self._drain_all()
        self.assertEqual(
            self.Message.search_count([("backend_id", "=", self.backend.id), ("state", "=", "failed")]), 500
        )

        incidents = self.env["mfg.incident"].search([("backend_id", "=", self.backend.id)])
        got = {(i.error_class, i.message_count) for i in incidents}
        self.assertEqual(got, {("mapping", 250), ("business", 150), ("internal", 100)})
        mapping = incidents.filtered(lambda i: i.error_class == "mapping")
        self.assertEqual(mapping.title, "test.order_report.v1: Unknown product code 'GHOST-7'")
        self.assertTrue(mapping.can_fix_mapping)
        business = incidents.filtered(lambda i: i.error_class == "business")
        self.assertEqual(
            business.signature, "business|Order # is closed in Odoo: it cannot take more quantity."
        )
        self.assertEqual(len(business.affected.split(", ")), 10, "the first affected orders are shown")
        self.assertEqual(business.action_view_messages()["domain"][0][2], business._mfg_messages().ids)
        self.assertEqual(len(business._mfg_messages()), 150)

        # fix from the group: create the mapping and retry the whole group in one click
        action = mapping.action_fix_mapping()
        wizard = (
            self.env["mfg.incident.fix"]
            .with_context(**action["context"])
            .create({"target": f"product.product,{self.product.id}"})
        )
        self.assertEqual((wizard.kind, wizard.external_code), ("product", "GHOST-7"))
        wizard.action_apply()
        self._drain_all()
        fixed = self.Message.search([("backend_id", "=", self.backend.id), ("external_id", "=like", "map-%")])
        self.assertEqual(set(fixed.mapped("state")), {"done"})
        self.assertEqual(len(fixed), 250)
        left = self.env["mfg.incident"].search([("backend_id", "=", self.backend.id)])
        self.assertEqual(
            {(i.error_class, i.message_count) for i in left}, {("business", 150), ("internal", 100)}
        )

    def test_retry_group_queues_every_message_of_the_group(self):
        self._receive(*[self._payload(f"m-{i}", order=f"O-{i}", product="NOPE") for i in range(5)])
        self._drain_all()
        incident = self.env["mfg.incident"].search([("backend_id", "=", self.backend.id)])
        self.assertEqual(incident.message_count, 5)
        self.env["mfg.code.mapping"].create(
            {
                "backend_id": self.backend.id,
                "kind": "product",
                "external_code": "NOPE",
                "target": f"product.product,{self.product.id}",
            }
        )
        incident.action_retry_group()
        self._drain_all()
        self.assertFalse(self.env["mfg.incident"].search([("backend_id", "=", self.backend.id)]))

    def test_signatures_mask_what_varies_and_keep_what_identifies_the_fix(self):
        self.assertEqual(error_signature("mapping", "whatever", "uom", "BOX"), "mapping|uom|BOX")
        a = error_signature("business", "Order WH/MO/00042 is closed: 'Pump 3' has 12.5 kg left")
        b = error_signature("business", "Order WH/MO/00917 is closed: 'Fan' has 3 kg left")
        self.assertEqual(a, b)
        self.assertEqual(a, "business|Order # is closed: '…' has # kg left")
        self.assertEqual(
            error_signature("transient", "Gave up after 5 attempts. Last error: HTTP 503 from mes.plant2"),
            error_signature("transient", "Gave up after 7 attempts. Last error: HTTP 503 from mes.plant2"),
        )
        self.assertNotEqual(
            error_signature("business", "Lot is held"), error_signature("business", "Lot is unknown")
        )
