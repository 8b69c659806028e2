from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import MfgPipelineCase


@tagged("post_install", "-at_install")
class TestBatchHandlers(MfgPipelineCase):
    """A handler with a batch variant (``_mfg_batch_<what>``): the drain applies the messages of
    many ordering keys in one call and one savepoint, and keeps every guarantee of the
    one-at-a-time path: order per key, each message applied once, a bad message fails alone."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.etype_in.handler_method = "_mfg_handle_order_report_batched"

    def _receive_all(self, *specs):
        """Receive (message id, order, step, extra) in this order; return the messages."""
        msgs = self.Message
        for message_id, order, step, extra in specs:
            msgs |= self._receive_one(self._payload(message_id, order=order, step=step, **extra))
        return msgs

    def test_one_call_per_wave_of_keys_and_order_per_key_kept(self):
        msgs = self._receive_all(
            ("a1", "A", "a1", {}),
            ("b1", "B", "b1", {}),
            ("a2", "A", "a2", {}),
            ("c1", "C", "c1", {}),
            ("a3", "A", "a3", {}),
            ("b2", "B", "b2", {}),
        )
        self._drain_all()
        self.assertEqual(set(msgs.mapped("state")), {"done"})
        self.assertEqual(self._order("A").history, "a1,a2,a3", "order per key kept")
        self.assertEqual(self._order("B").history, "b1,b2")
        self.assertEqual(self._order("C").history, "c1")
        # Waves: {a1, b1, c1} in one call, then {a2, b2}, then a3 alone (one-at-a-time handler).
        self.assertEqual(self._order("C").batch_size, 3)
        self.assertEqual(self._order("B").batch_size, 2)
        self.assertEqual(self._order("A").batch_size, 0, "a3 came alone: the one-at-a-time handler")
        self.assertEqual(
            [self._order(k).applied_count for k in "ABC"], [3, 2, 1], "each message applied once"
        )
        self.assertTrue(all(msg.record_ids for msg in msgs), "each message links its order")

    @mute_logger(
        "odoo.addons.mfg_integration_base.pipeline.process", "odoo.addons.mfg_integration_base.pipeline.drain"
    )
    def test_a_bad_message_in_a_batch_fails_alone(self):
        msgs = self._receive_all(
            ("a1", "A", "a1", {}),
            ("b1", "B", "b1", {"fail": "business"}),
            ("c1", "C", "c1", {}),
            ("a2", "A", "a2", {}),
            ("b2", "B", "b2", {}),
            ("c2", "C", "c2", {}),
        )
        by_id = {msg.external_id: msg for msg in msgs}
        self._drain()  # one drain claims them all
        self.assertEqual(by_id["b1"].state, "failed")
        self.assertIn("closed in Odoo", by_id["b1"].error_message, "the error is the bad message's own")
        self.assertEqual(
            (by_id["b2"].state, by_id["b2"].attempts), ("queued", 0), "B waits behind its failure"
        )
        for done in ("a1", "c1", "a2", "c2"):
            self.assertEqual(by_id[done].state, "done", done)
        self.assertFalse(self._order("B"), "nothing of the failed message is left")
        self.assertEqual(self._order("A").history, "a1,a2")
        self.assertEqual(self._order("C").history, "c1,c2")
        self.assertEqual(
            [self._order(k).applied_count for k in "AC"],
            [2, 2],
            "the rolled-back batch applied nothing twice",
        )
        self.assertEqual(self._order("C").batch_size, 2, "the next wave is a batch again ({a2, c2})")

    @mute_logger(
        "odoo.addons.mfg_integration_base.pipeline.process", "odoo.addons.mfg_integration_base.pipeline.drain"
    )
    def test_a_transient_failure_in_a_batch_retries_that_message_only(self):
        msgs = self._receive_all(
            ("a1", "A", "a1", {}),
            ("b1", "B", "b1", {"fail": "transient"}),
            ("b2", "B", "b2", {}),
            ("a2", "A", "a2", {}),
        )
        by_id = {msg.external_id: msg for msg in msgs}
        self._drain()  # one drain claims them all
        self.assertEqual(by_id["b1"].state, "retrying")
        self.assertEqual(by_id["b1"].attempts, 1, "the batch attempt is not counted, its own attempt is")
        self.assertEqual((by_id["b2"].state, by_id["b2"].attempts), ("queued", 0), "B waits for its retry")
        self.assertEqual((by_id["a1"].state, by_id["a2"].state), ("done", "done"))
        self.assertEqual(self._order("A").history, "a1,a2")
        self.assertEqual(self._order("A").applied_count, 2)


@tagged("post_install", "-at_install")
class TestConcurrentUpdates(MfgPipelineCase):
    """A drain whose work meets a concurrent transaction's committed change (two drains booking
    on one stock quant): the work is done again in a fresh transaction, not recorded as a failed
    attempt; where no fresh transaction can be started, the messages are given back untouched."""

    def _receive_abc(self):
        specs = [("a1", "A", {}), ("b1", "B", {"fail": "conflict_once"}), ("c1", "C", {}), ("b2", "B", {})]
        return {
            mid: self._receive_one(self._payload(mid, order=order, step=mid, **extra))
            for mid, order, extra in specs
        }

    def _claim_all(self, msgs):
        """What this drain's committed claim leaves: the messages 'processing' with its token."""
        messages = self.Message.concat(*msgs.values())
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE mfg_message SET state = 'processing', claim_token = 'mine', claimed_at = now() WHERE id IN %s",
            (tuple(messages.ids),),
        )
        self.env.invalidate_all()
        return messages, "mine"

    @mute_logger(
        "odoo.addons.mfg_integration_base.pipeline.process", "odoo.addons.mfg_integration_base.pipeline.drain"
    )
    def test_work_hit_by_a_concurrent_update_is_redone_in_a_fresh_transaction(self):
        msgs = self._receive_abc()
        messages, token = self._claim_all(msgs)
        restarts = []
        stats = self.backend._mfg_process_claimed(messages, token, restart=lambda: restarts.append(1))
        self.env.invalidate_all()
        self.assertEqual(len(restarts), 1, "one fresh transaction for the one conflict")
        self.assertEqual(stats["redone"], 1)
        self.assertEqual(stats["done"], 4)
        for msg in msgs.values():
            self.assertEqual((msg.state, msg.attempts), ("done", 1), msg.external_id)
        self.assertEqual(self._order("B").history, "b1,b2", "order per key kept")
        self.assertEqual(
            [self._order(k).applied_count for k in "ABC"],
            [1, 2, 1],
            "the rolled-back work is not applied twice",
        )

    @mute_logger(
        "odoo.addons.mfg_integration_base.pipeline.process", "odoo.addons.mfg_integration_base.pipeline.drain"
    )
    def test_without_a_fresh_transaction_the_rest_is_given_back_untouched(self):
        msgs = self._receive_abc()
        self._drain()  # tests run in one transaction: no restart possible
        self.assertEqual(msgs["b1"].attempts, 0, "a concurrent update is no failed attempt")
        self.assertEqual(msgs["b1"].state, "queued")
        self.assertFalse(msgs["b1"].error_message)
        self.assertEqual(msgs["b2"].state, "queued")
        self._drain()  # the next drain (its own snapshot) applies them
        for msg in msgs.values():
            self.assertEqual(msg.state, "done", msg.external_id)
        self.assertEqual(self._order("B").history, "b1,b2")
        self.assertEqual([self._order(k).applied_count for k in "ABC"], [1, 2, 1])
