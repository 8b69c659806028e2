from odoo.tests import tagged

from .common import MfgPipelineCase

CONSUMERS = ("mrp.production", "mrp.bom", "stock.lot", "stock.picking", "product.template", "product.product")


@tagged("post_install", "-at_install")
class TestMessageConsumer(MfgPipelineCase):
    """mfg.message.consumer.mixin: the "Integration messages" smart button of business forms."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        heartbeat = cls.env.ref("mfg_integration_base.exchange_type_plant_heartbeat")
        cls.backend = cls._create_backend("Plant", "plant-consumer", [heartbeat])
        cls.product = cls.env["product.product"].create({"name": "Widget", "is_storable": True})
        cls.integration_user = cls._create_user(
            "Planner", "planner-consumer", [cls.group_user, cls.env.ref("mrp.group_mrp_user")]
        )
        cls.plain_user = cls._create_user(
            "Operator", "operator-consumer", [cls.env.ref("mrp.group_mrp_user")]
        )

    def _message_about(self, records):
        msg = self._receive(
            "plant.heartbeat",
            {"message_id": f"hb-{records[:1].id}", "sent_at": "2026-03-01T10:00:00Z", "status": "running"},
        )
        msg._mfg_link(records)
        return msg

    def test_forms_show_the_button_to_integration_users_only(self):
        for model in CONSUMERS:
            with self.subTest(model=model):
                arch = self.env[model].with_user(self.integration_user).get_view(view_type="form")["arch"]
                self.assertIn('name="action_view_mfg_messages"', arch)
                arch = self.env[model].with_user(self.plain_user).get_view(view_type="form")["arch"]
                self.assertNotIn("action_view_mfg_messages", arch)

    def test_count_and_action_of_a_lot(self):
        lot = self.env["stock.lot"].create({"name": "L-1", "product_id": self.product.id})
        other = self.env["stock.lot"].create({"name": "L-2", "product_id": self.product.id})
        msg = self._message_about(lot)
        lot = lot.with_user(self.integration_user)
        self.assertEqual(lot.mfg_message_count, 1)
        self.assertEqual(other.with_user(self.integration_user).mfg_message_count, 0)
        action = lot.action_view_mfg_messages()
        self.assertEqual(action["res_model"], "mfg.message")
        self.assertEqual(
            self.env["mfg.message"].with_user(self.integration_user).search(action["domain"]), msg
        )

    def test_template_shows_the_messages_of_its_variants(self):
        msg = self._message_about(self.product)
        template = self.product.product_tmpl_id.with_user(self.integration_user)
        self.assertEqual(template.mfg_message_count, 1)
        self.assertEqual(self.env["mfg.message"].search(template.action_view_mfg_messages()["domain"]), msg)
        self.assertEqual(self.product.with_user(self.integration_user).mfg_message_count, 1)
