"""The ORM-free parts of the engine (pipeline/), tested without a database."""

from odoo.tests import BaseCase, tagged

from ..pipeline import claim, outcome, receive, states


@tagged("post_install", "-at_install")
class TestPipelineEngine(BaseCase):
    def test_sender_key_problem_names_the_id_and_the_limit(self):
        self.assertIsNone(receive.sender_key_problem(None, "message id"))
        self.assertIsNone(receive.sender_key_problem("A-1\twith tab", "message id"))
        self.assertIsNone(receive.sender_key_problem("x" * 255, "message id"))
        self.assertIn("256 characters long; at most 255", receive.sender_key_problem("x" * 256, "message id"))
        self.assertIn(
            "correlation id 'a\\x00b' holds a NUL", receive.sender_key_problem("a\x00b", "correlation id")
        )

    def test_payload_keys_are_bounded_scalars(self):
        self.assertIsNone(receive.as_key({"a": 1}))
        self.assertIsNone(receive.as_key("  "))
        self.assertEqual(receive.as_key(" MO-1\x00 "), "MO-1")
        self.assertEqual(len(receive.as_key("k" * 1000)), 256)
        self.assertEqual(receive.as_key(42), "42")

    def test_texts_are_made_storable(self):
        self.assertEqual(outcome.pg_text("Order A\x00B"), "Order A\ufffdB")
        self.assertEqual(outcome.pg_text("lone \ud800 surrogate"), "lone ? surrogate")
        self.assertEqual(outcome.pg_text(12), 12)
        self.assertIsNone(outcome.pg_text(None))

    def test_orphan_condition_uses_the_claim_lock_then_the_lease(self):
        sql = claim.orphaned_claim_sql("p")
        self.assertIn("p.state = 'processing'", sql)
        self.assertIn("p.claim_lock NOT IN", sql)
        self.assertIn(f"l.classid = {claim.CLAIM_LOCK_CLASS}", sql)
        self.assertIn("make_interval(secs => %(lease)s)", sql)

    def test_state_sets(self):
        names = {code for code, _label in states.STATES}
        for subset in (states.CLAIMABLE_STATES, states.BLOCKING_STATES, states.PENDING_STATES):
            self.assertLessEqual(set(subset), names)
        self.assertNotIn(
            "processing", states.CLAIMABLE_STATES, "a claimed message is taken again only as an orphan"
        )
        self.assertIn("processing", states.BLOCKING_STATES)
