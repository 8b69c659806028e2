from odoo.tests import tagged

from .common import MfgPipelineCase


@tagged("post_install", "-at_install")
class TestPipelineCase(MfgPipelineCase):
    """The shared test case of mfg_integration_base (tests/common.py) drives the real pipeline
    and says what went wrong when an assertion fails."""

    def test_dict_payload_by_exchange_type_code_is_processed(self):
        data = {"message_id": "pc-1", "order": "PC-1", "product": "WID-1", "quantity": 2}
        msg = self._receive_one(data, etype="test.order_report")
        self.assertEqual(msg.exchange_type_id, self.etype_in)
        self.assertIn('"order": "PC-1"', msg.payload, "a dict is sent as JSON")
        self._drain()
        self.assertDone(msg)
        self.assertEqual(self._order("PC-1").quantity, 2)

    def test_assert_done_shows_the_error_of_a_failed_message(self):
        msg = self._receive_one(self._payload("pc-2", order="PC-2", product="GHOST-1"))
        self._drain()
        with self.assertRaises(AssertionError) as caught:
            self.assertDone(msg)
        self.assertIn("Unknown product code 'GHOST-1'", str(caught.exception))
        self.assertFailedWith(msg, "mapping", r"Unknown product code 'GHOST-1'")

    def test_assert_failed_with_refuses_another_class_or_text(self):
        msg = self._receive_one(self._payload("pc-3", order="PC-3", fail="business"))
        self._drain()
        self.assertFailedWith(msg, "business", "closed")
        with self.assertRaises(AssertionError):
            self.assertFailedWith(msg, "mapping", "closed")
        with self.assertRaises(AssertionError):
            self.assertFailedWith(msg, "business", "Unknown product")
        done = self._receive_one(self._payload("pc-4", order="PC-4"))
        self._drain()
        with self.assertRaises(AssertionError):
            self.assertFailedWith(done, "business", "")

    def test_outbox_trap_collects_only_what_the_block_writes(self):
        other = self._create_backend("Other plant", "other-plant")
        before = self.backend._mfg_outbox("test.order_notice", {"order": "A", "status": "released"})
        with self._outbox_trap(backend=self.backend) as trap:
            inside = self.backend._mfg_outbox("test.order_notice", {"order": "B", "status": "released"})
            other._mfg_outbox("test.order_notice", {"order": "C", "status": "released"})
        self.assertEqual(trap.messages, inside)
        self.assertEqual(trap.of("test.order_notice"), inside)
        self.assertFalse(trap.of(self.etype_in))
        self.assertNotIn(before, trap.messages)
        with self._outbox_trap() as every:
            both = self.backend._mfg_outbox("test.order_notice", {"order": "D", "status": "released"})
            both |= other._mfg_outbox("test.order_notice", {"order": "E", "status": "released"})
        self.assertEqual(every.messages, both, "without a backend, every backend's outbox")
