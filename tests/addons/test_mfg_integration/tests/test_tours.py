"""The screens, walked in a real browser (headless Chromium, installed by setup/bootstrap).

A missing Chromium fails these tests instead of skipping them: a browser test that silently
does not run proves nothing."""

from odoo import Command
from odoo.tests import HttpCase, tagged
from odoo.tests.common import _find_executable


@tagged("post_install", "-at_install")
class TestTours(HttpCase):
    def setUp(self):
        super().setUp()
        if not _find_executable():
            self.fail("Chromium is not installed: run setup/bootstrap (it installs Debian's chromium).")
        # the tours play an integration manager
        self.env.ref("base.user_admin").groups_id += self.env.ref("mfg_integration_base.group_mfg_manager")

    def test_incident_fix_tour(self):
        etype = self.env.ref("test_mfg_integration.exchange_type_order_report")
        backend = self.env["mfg.backend"].create(
            {
                "name": "Tour plant",
                "code": "tour-plant",
                "flow_ids": [Command.create({"exchange_type_id": etype.id})],
            }
        )
        self.env["product.product"].create({"name": "Tour widget", "default_code": "TW-1"})
        Message = self.env["mfg.message"]
        Message._mfg_receive(
            backend,
            etype,
            [
                {
                    "payload": f'{{"message_id": "tour-{i}", "order": "T-{i}", "product": "GHOST-9", "quantity": 1}}'
                }
                for i in range(1, 4)
            ],
        )
        self.env.flush_all()
        backend._mfg_drain("inbound", "root.mfg")
        self.env.invalidate_all()
        messages = Message.search([("backend_id", "=", backend.id)])
        self.assertEqual(messages.mapped("state"), ["failed"] * 3)

        self.start_tour(
            "/odoo/action-mfg_integration_base.action_mfg_dashboard", "mfg_incident_fix_tour", login="admin"
        )

        self.env.invalidate_all()
        self.assertEqual(messages.mapped("state"), ["queued"] * 3, "retried from the incident")
        mapping = self.env["mfg.code.mapping"].search([("backend_id", "=", backend.id)])
        self.assertEqual(
            (mapping.kind, mapping.external_code, mapping.target.default_code), ("product", "GHOST-9", "TW-1")
        )
        # the drain job runs in the background in real life
        self.env.flush_all()
        backend._mfg_drain("inbound", "root.mfg")
        self.env.invalidate_all()
        self.assertEqual(messages.mapped("state"), ["done"] * 3)

        self.start_tour(
            "/odoo/action-mfg_integration_base.action_mfg_incident", "mfg_incident_done_tour", login="admin"
        )

    def test_backend_setup_tour(self):
        self.start_tour(
            "/odoo/action-mfg_integration_base.action_mfg_backend", "mfg_backend_setup_tour", login="admin"
        )
        backend = self.env["mfg.backend"].search([("code", "=", "tour-p2-mes")])
        self.assertEqual((backend.plant_code, backend.mqtt_enabled, backend.mqtt_port), ("P02", True, 1883))
        self.assertFalse(backend.mqtt_last_error)
