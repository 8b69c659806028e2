import json
from datetime import timedelta

from psycopg2.errors import UniqueViolation

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.fields import Command
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.mfg_integration_base.pipeline.claim import drain_partitions

from .common import MfgPipelineCase

LOG_MESSAGE = "odoo.addons.mfg_integration_base.pipeline.process"


@tagged("post_install", "-at_install")
class TestStates(MfgPipelineCase):
    """Every state a message goes through, as the drain job leaves it."""

    def test_received_then_done(self):
        msg = self._receive_one(self._payload("m-1", order="A", quantity=2.5, step="cut"))
        self.assertEqual(msg.state, "received")
        self.assertEqual(msg.attempts, 0)
        self.assertEqual(msg.name, f"IN test.order_report.v1 #{msg.id}")
        self.assertEqual(msg.external_id, "m-1")
        self.assertEqual(msg.ordering_key, "A")
        self.assertEqual(msg.company_id, self.backend.company_id)
        self.assertFalse(self._order("A"), "nothing is applied before the drain")
        self.assertEqual(
            len(self._drain_jobs()), drain_partitions(), "receiving starts a drain job per partition"
        )

        result = self._drain()

        self.assertIn("done 1", result)
        self.assertEqual(msg.state, "done")
        self.assertEqual(msg.attempts, 1)
        self.assertTrue(msg.processed_at)
        self.assertFalse(msg.error_class)
        self.assertFalse(msg.error_message)
        order = self._order("A")
        self.assertEqual(len(order), 1)
        self.assertEqual(order.product_id, self.product)
        self.assertEqual(order.quantity, 2.5)
        self.assertEqual(order.history, "cut")
        self.assertEqual(order.applied_count, 1)
        self.assertEqual(
            [(r.res_model, r.res_id) for r in msg.record_ids],
            [("mfg.test.order", order.id)],
            "the message links the order it changed",
        )

    def test_validated_at_receive_is_queued_then_done(self):
        (res,) = self._receive(self._payload("m-q", order="Q"), validate=True)
        msg = self.Message.browse(res["id"])
        self.assertEqual(res["state"], "queued")
        self.assertEqual(msg.state, "queued")
        self._drain()
        self.assertEqual(msg.state, "done")
        self.assertEqual(self._order("Q").applied_count, 1)

    def test_schema_violation_rejected_with_field_path_and_never_retried(self):
        msg = self._receive_one(self._payload("m-bad", quantity="lots"))
        self.assertEqual(msg.state, "received", "the contract is checked by the drain job")

        self._drain()

        self.assertEqual(msg.state, "rejected")
        self.assertEqual(msg.error_class, "validation")
        self.assertEqual(msg.error_path, "/quantity")
        self.assertIn("/quantity", msg.error_message)
        self.assertIn('"lots"', msg.error_message, "the error names the faulty value")
        self.assertFalse(msg.next_attempt_at)
        self.assertFalse(self._order("A"))
        self.assertEqual(msg.attempts, 1)

        self._drain()
        self._drain()
        self.assertEqual(msg.state, "rejected", "a rejected message is never retried")
        self.assertEqual(msg.attempts, 1)

    def test_schema_violation_in_nested_list_names_the_item(self):
        msg = self._receive_one(self._payload("m-lines", lines=[{"qty": 1}, {"qty": "two"}]))
        self._drain()
        self.assertEqual(msg.state, "rejected")
        self.assertEqual(msg.error_path, "/lines/1/qty")
        self.assertIn("/lines/1/qty", msg.error_message)

    def test_schema_violation_rejected_at_receive_when_validating(self):
        (res,) = self._receive(self._payload("m-zero", quantity=0), validate=True)
        msg = self.Message.browse(res["id"])
        self.assertEqual(res["state"], "rejected")
        self.assertEqual([e["path"] for e in res["errors"]], ["/quantity"])
        self.assertIn("/quantity", res["error"])
        self.assertEqual(msg.state, "rejected")
        self.assertEqual(msg.error_path, "/quantity")
        self.assertFalse(self._drain_jobs(), "no drain job is started for a rejected message")

    def test_non_json_bytes_rejected_at_receive_payload_kept(self):
        (res,) = self._receive(b"<order>A</order>")
        msg = self.Message.browse(res["id"])
        self.assertEqual(msg.state, "rejected")
        self.assertEqual(msg.error_class, "validation")
        self.assertIn("not valid JSON", msg.error_message)
        self.assertEqual(res["error"], msg.error_message)
        self.assertEqual(msg.payload, "<order>A</order>", "the payload is kept as received")
        self.assertFalse(msg.external_id)
        self._drain()
        self.assertEqual(msg.state, "rejected")

    def test_non_utf8_and_non_object_payloads_rejected(self):
        res = self._receive(b'{"order": "\xff"}', "[1, 2]", '"just text"')
        msgs = self.Message.browse([r["id"] for r in res])
        self.assertEqual(msgs.mapped("state"), ["rejected"] * 3)
        self.assertIn("not UTF-8", msgs[0].error_message)
        self.assertIn('{"order": "', msgs[0].payload, "the undecodable payload is still kept")
        self.assertIn("must be a JSON object, got list", msgs[1].error_message)
        self.assertEqual(msgs[1].payload, "[1, 2]")
        self.assertIn("must be a JSON object, got str", msgs[2].error_message)

    def test_business_error_failed(self):
        msg = self._receive_one(self._payload("m-biz", order="C", fail="business"))
        self._drain()
        self.assertEqual(msg.state, "failed")
        self.assertEqual(msg.error_class, "business")
        self.assertIn("Order C is closed in Odoo", msg.error_message)
        self.assertFalse(msg.next_attempt_at)
        self._drain()
        self.assertEqual(msg.state, "failed", "a failed message waits for a user")
        self.assertEqual(msg.attempts, 1)

    def test_unknown_product_code_failed_mapping(self):
        msg = self._receive_one(self._payload("m-map", order="M", product="PLANT-77"))
        self._drain()
        self.assertEqual(msg.state, "failed")
        self.assertEqual(msg.error_class, "mapping")
        self.assertIn("PLANT-77", msg.error_message)
        self.assertIn("test-plant", msg.error_message)
        self.assertIn("Unknown product code", msg.error_message)
        self.assertFalse(self._order("M"))

    def test_transient_error_retrying_with_backoff_then_dead(self):
        msg = self._receive_one(self._payload("m-busy", order="T", fail="transient"))

        self._drain()
        self.assertEqual(msg.state, "retrying")
        self.assertEqual(msg.attempts, 1)
        self.assertEqual(msg.error_class, "transient")
        self.assertIn("MES endpoint busy for order T", msg.error_message)
        delay = (msg.next_attempt_at - msg.processed_at).total_seconds()
        self.assertTrue(10 <= delay <= 11, f"first retry ~10 s later, got {delay}")
        retry_jobs = self._drain_jobs().filtered("eta")
        self.assertEqual(len(retry_jobs), 1, "a drain job is scheduled for the retry")
        self.assertEqual(retry_jobs.eta, msg.next_attempt_at)

        # Not due yet: a drain now leaves it alone.
        self._drain()
        self.assertEqual(msg.attempts, 1)
        self.assertEqual(msg.state, "retrying")

        self._make_due(msg)
        self._drain()
        self.assertEqual(msg.state, "retrying")
        self.assertEqual(msg.attempts, 2)
        delay = (msg.next_attempt_at - msg.processed_at).total_seconds()
        self.assertTrue(20 <= delay <= 21, f"second retry ~20 s later, got {delay}")

        self._make_due(msg)
        self._drain()
        self.assertEqual(msg.state, "dead")
        self.assertEqual(msg.attempts, 3)
        self.assertFalse(msg.next_attempt_at)
        self.assertIn("Gave up after 3 attempts", msg.error_message)
        self.assertIn("MES endpoint busy", msg.error_message)

        self._make_due(msg)
        self._drain()
        self.assertEqual(msg.state, "dead")
        self.assertEqual(msg.attempts, 3)

    def test_crash_is_internal_failure(self):
        msg = self._receive_one(self._payload("m-crash", order="X", fail="crash"))
        with mute_logger(LOG_MESSAGE):
            self._drain()
        self.assertEqual(msg.state, "failed")
        self.assertEqual(msg.error_class, "internal")
        self.assertIn("Unexpected error (ZeroDivisionError)", msg.error_message)
        self.assertIn("Traceback", msg.error_detail)
        self.assertIn("_mfg_handle_order_report", msg.error_detail)

    def test_one_failure_does_not_undo_the_others(self):
        res = self._receive(
            self._payload("m-ok1", order="O1"),
            self._payload("m-ko", order="O2", fail="crash"),
            self._payload("m-ok2", order="O3"),
        )
        msgs = self.Message.browse([r["id"] for r in res])
        self._drain()
        self.assertEqual(msgs.mapped("state"), ["done", "failed", "done"])
        self.assertEqual(self.Order.search([("name", "in", ["O1", "O2", "O3"])]).mapped("name"), ["O1", "O3"])


@tagged("post_install", "-at_install")
class TestIdempotency(MfgPipelineCase):
    def _assert_once(self, results, external_id, order):
        self.assertEqual(len(results), 10)
        ids = {r["id"] for r in results}
        self.assertEqual(len(ids), 1, "every answer points at the same message")
        self.assertEqual([r["duplicate"] for r in results], [False] + [True] * 9)
        self.assertEqual(
            self.Message.search_count(
                [("backend_id", "=", self.backend.id), ("external_id", "=", external_id)]
            ),
            1,
        )
        self._drain()
        self.assertEqual(self.Message.browse(ids.pop()).state, "done")
        self.assertEqual(self._order(order).applied_count, 1)

    def test_same_message_id_ten_times_in_one_batch(self):
        payload = self._payload("dup-batch", order="D1")
        results = self._receive(*[payload] * 10)
        self._assert_once(results, "dup-batch", "D1")

    def test_same_message_id_ten_separate_calls(self):
        payload = self._payload("dup-calls", order="D2")
        results = [self._receive(payload)[0] for _i in range(10)]
        self._assert_once(results, "dup-calls", "D2")

    def test_redelivery_after_processing_is_not_applied_again(self):
        payload = self._payload("dup-late", order="D3")
        first = self._receive_one(payload)
        self._drain()
        self.assertEqual(first.state, "done")
        (again,) = self._receive(payload)
        self.assertTrue(again["duplicate"])
        self.assertEqual(again["id"], first.id)
        self.assertEqual(again["state"], "done", "the sender learns the message was already processed")
        self._drain()
        self.assertEqual(self._order("D3").applied_count, 1)

    def test_different_message_ids_are_different_messages(self):
        results = self._receive(self._payload("d-1", order="D4"), self._payload("d-2", order="D4"))
        self.assertEqual([r["duplicate"] for r in results], [False, False])
        self.assertEqual(len({r["id"] for r in results}), 2)
        self._drain()
        self.assertEqual(self._order("D4").applied_count, 2)

    def test_same_message_id_on_another_backend_is_another_message(self):
        other = self._create_backend("Other plant", "other-plant")
        payload = self._payload("dup-x", order="D5")
        (a,) = self._receive(payload)
        (b,) = self._receive(payload, backend=other)
        self.assertFalse(a["duplicate"])
        self.assertFalse(b["duplicate"])
        self.assertNotEqual(a["id"], b["id"])


@tagged("post_install", "-at_install")
class TestMapping(MfgPipelineCase):
    def test_add_mapping_then_retry_is_done(self):
        msg = self._receive_one(self._payload("map-1", order="P", product="PLANT-77"))
        self._drain()
        self.assertEqual((msg.state, msg.error_class), ("failed", "mapping"))

        self.env["mfg.code.mapping"].create(
            {
                "backend_id": self.backend.id,
                "kind": "product",
                "external_code": "PLANT-77",
                "target": f"product.product,{self.product.id}",
            }
        )
        msg.action_retry()
        self.assertEqual(msg.state, "queued")
        self._drain()

        self.assertEqual(msg.state, "done")
        self.assertFalse(msg.error_message)
        self.assertEqual(self._order("P").product_id, self.product)

    def test_mapping_of_another_backend_does_not_apply(self):
        other = self._create_backend("Other plant", "other-plant")
        self.env["mfg.code.mapping"].create(
            {
                "backend_id": other.id,
                "kind": "product",
                "external_code": "PLANT-77",
                "target": f"product.product,{self.product.id}",
            }
        )
        msg = self._receive_one(self._payload("map-2", order="P2", product="PLANT-77"))
        self._drain()
        self.assertEqual((msg.state, msg.error_class), ("failed", "mapping"))

    def test_fallback_to_odoo_internal_reference(self):
        self.assertTrue(self.backend.use_odoo_codes)
        msg = self._receive_one(self._payload("fb-1", order="F1", product="WID-1"))
        self._drain()
        self.assertEqual(msg.state, "done")
        self.assertEqual(self._order("F1").product_id, self.product)

    def test_no_fallback_when_odoo_codes_are_off(self):
        self.backend.use_odoo_codes = False
        msg = self._receive_one(self._payload("fb-2", order="F2", product="WID-1"))
        self._drain()
        self.assertEqual((msg.state, msg.error_class), ("failed", "mapping"))
        self.assertIn("WID-1", msg.error_message)

    def test_mapping_wins_over_internal_reference(self):
        other_product = self.env["product.product"].create({"name": "Mapped widget", "default_code": "WID-2"})
        self.env["mfg.code.mapping"].create(
            {
                "backend_id": self.backend.id,
                "kind": "product",
                "external_code": "WID-1",
                "target": f"product.product,{other_product.id}",
            }
        )
        self._receive_one(self._payload("fb-3", order="F3", product="WID-1"))
        self._drain()
        self.assertEqual(self._order("F3").product_id, other_product)


@tagged("post_install", "-at_install")
class TestManualActions(MfgPipelineCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = cls._create_user("Maria Manager", "maria.mfg", [cls.group_manager])
        cls.integrator = cls._create_user("Ivan Integrator", "ivan.mfg", [cls.group_user])

    def _failed_message(self, external_id="f-1", order="R"):
        msg = self._receive_one(self._payload(external_id, order=order, fail="business"))
        self._drain()
        self.assertEqual(msg.state, "failed")
        return msg

    def _dead_message(self, external_id="dead-1", order="Z"):
        msg = self._receive_one(self._payload(external_id, order=order, fail="transient"))
        for _i in range(3):
            self._make_due(msg)
            self._drain()
        self.assertEqual(msg.state, "dead")
        return msg

    # retry
    def test_retry_resets_attempts_and_names_the_user(self):
        msg = self._dead_message()
        msg.with_user(self.manager).action_retry()
        self.assertEqual(msg.state, "queued")
        self.assertEqual(msg.attempts, 0)
        self.assertFalse(msg.next_attempt_at)
        posts = [b for b in self._chatter(msg) if "Retry requested" in b]
        self.assertEqual(len(posts), 1)
        self.assertIn("Retry requested by Maria Manager", posts[0])
        self.assertIn("was Dead after 3 attempt(s)", posts[0])
        post = msg.message_ids.filtered(lambda m: "Retry requested" in str(m.body))
        self.assertEqual(post.author_id, self.manager.partner_id)

        # It gets its full number of attempts again.
        self._drain()
        self.assertEqual((msg.state, msg.attempts), ("retrying", 1))

    def test_retry_refused_for_done_message(self):
        msg = self._receive_one(self._payload("ok-1", order="R1"))
        self._drain()
        with self.assertRaisesMatch(UserError, "use Replay"):
            msg.with_user(self.manager).action_retry()
        self.assertEqual(msg.state, "done")

    # replay
    def test_replay_creates_a_new_queued_message(self):
        msg = self._receive_one(self._payload("rp-1", order="RP", step="s1"))
        self._drain()
        self.assertEqual(msg.state, "done")

        action = msg.with_user(self.manager).action_replay()

        replay = msg.replay_ids
        self.assertEqual(len(replay), 1)
        self.assertEqual(action["res_id"], replay.id)
        self.assertEqual(replay.replay_of_id, msg)
        self.assertEqual(replay.state, "queued")
        self.assertEqual(replay.payload, msg.payload)
        self.assertEqual(replay.transport, "replay")
        self.assertFalse(replay.external_id, "a replay must not collide with the original's id")
        self.assertEqual(replay.attempts, 0)
        self.assertFalse(replay.processed_at)
        self.assertEqual(msg.state, "done", "the original is untouched")
        self.assertTrue(any("Replayed by Maria Manager" in b for b in self._chatter(msg)))
        self.assertTrue(any("requested by Maria Manager" in b for b in self._chatter(replay)))

        self._drain()
        self.assertEqual(replay.state, "done")
        self.assertEqual(replay.attempts, 1)
        self.assertEqual(self._order("RP").applied_count, 2)
        self.assertEqual(self._order("RP").history, "s1,s1")

    def test_replay_of_dead_message_starts_over(self):
        msg = self._dead_message("dead-2", order="Z2")
        msg.with_user(self.manager).action_discard("endpoint moved, replaying")
        msg.with_user(self.manager).action_replay()
        replay = msg.replay_ids
        self.assertEqual(replay.attempts, 0)
        self.assertFalse(replay.error_class)
        self.assertFalse(replay.error_message)
        self._drain()
        # Still failing transiently: a fresh message gets its retries, it is not dead at once.
        self.assertEqual((replay.state, replay.attempts), ("retrying", 1))

    # discard
    def test_discard_requires_a_reason(self):
        msg = self._failed_message()
        for reason in ("", "   ", None):
            with self.assertRaisesMatch(UserError, "Say why"):
                msg.with_user(self.manager).action_discard(reason)
        self.assertEqual(msg.state, "failed")

    def test_discard_posts_reason_and_user(self):
        msg = self._failed_message()
        msg.with_user(self.manager).action_discard("Order R was cancelled at the plant")
        self.assertEqual(msg.state, "discarded")
        self.assertEqual(msg.discard_reason, "Order R was cancelled at the plant")
        self.assertTrue(
            any(
                "Discarded by Maria Manager: Order R was cancelled at the plant" in b
                for b in self._chatter(msg)
            )
        )

    def test_discard_wizard_discards_every_selected_message(self):
        msgs = self._failed_message("w-1", "W1") | self._failed_message("w-2", "W2")
        wizard = (
            self.env["mfg.message.discard.wizard"]
            .with_user(self.manager)
            .with_context(active_model="mfg.message", active_ids=msgs.ids)
            .create({"reason": "duplicates sent by the MES"})
        )
        self.assertEqual(wizard.message_count, 2)
        wizard.action_discard()
        self.assertEqual(msgs.mapped("state"), ["discarded", "discarded"])

    def test_discard_of_done_message_refused(self):
        msg = self._receive_one(self._payload("ok-2", order="R2"))
        self._drain()
        with self.assertRaisesMatch(UserError, "is done: it cannot be discarded"):
            msg.with_user(self.manager).action_discard("no longer needed")
        self.assertEqual(msg.state, "done")
        self.assertFalse(msg.discard_reason)

    # rights
    def test_integration_user_may_retry_but_not_discard_or_replay(self):
        msg = self._failed_message()
        as_user = msg.with_user(self.integrator)
        with self.assertRaises(AccessError):
            as_user.action_discard("not my call")
        with self.assertRaises(AccessError):
            as_user.action_replay()
        with self.assertRaises(AccessError):
            as_user.action_open_discard_wizard()
        self.assertEqual(msg.state, "failed")
        self.assertFalse(msg.replay_ids)

        as_user.action_retry()
        self.assertEqual(msg.state, "queued")
        self.assertTrue(any("Retry requested by Ivan Integrator" in b for b in self._chatter(msg)))


@tagged("post_install", "-at_install")
class TestOrderingKey(MfgPipelineCase):
    def test_failure_holds_its_key_only_until_fixed(self):
        res = self._receive(
            self._payload("A1", order="A", step="a1", fail="business"),
            self._payload("A2", order="A", step="a2"),
            self._payload("B1", order="B", step="b1"),
        )
        a1, a2, b1 = self.Message.browse([r["id"] for r in res])

        result = self._drain()

        self.assertIn("held by ordering key 1", result)
        self.assertEqual(a1.state, "failed")
        self.assertIn(a2.state, ("received", "queued"), "A2 waits behind A1")
        self.assertEqual(b1.state, "done", "another key is not held")
        self.assertFalse(self._order("A"))
        self.assertEqual(self._order("B").history, "b1")

        self._drain()
        self.assertIn(a2.state, ("received", "queued"), "still held while A1 is failed")
        self.assertEqual(a2.attempts, 0)

        # Fix A1 (the plant resends the corrected content) and retry it.
        data = json.loads(a1.payload)
        del data["fail"]
        a1.sudo().write({"payload": json.dumps(data)})
        a1.action_retry()
        self._drain()

        self.assertEqual((a1.state, a2.state), ("done", "done"))
        self.assertEqual(self._order("A").history, "a1,a2", "A1 then A2, in order of arrival")
        self.assertEqual(self._order("A").applied_count, 2)

    def test_retrying_message_holds_later_ones_of_its_key(self):
        res = self._receive(
            self._payload("K1", order="K", step="k1", fail="transient"),
            self._payload("K2", order="K", step="k2"),
        )
        k1, k2 = self.Message.browse([r["id"] for r in res])
        self._drain()
        self.assertEqual(k1.state, "retrying")
        self.assertIn(k2.state, ("received", "queued"))
        self._drain()
        self.assertIn(
            k2.state, ("received", "queued"), "not overtaken while the first one waits for its retry"
        )
        self.assertEqual(k2.attempts, 0)
        self.assertFalse(self._order("K"))

    def test_discarded_message_releases_its_key(self):
        res = self._receive(
            self._payload("L1", order="L", step="l1", fail="business"),
            self._payload("L2", order="L", step="l2"),
        )
        l1, l2 = self.Message.browse([r["id"] for r in res])
        self._drain()
        self.assertIn(l2.state, ("received", "queued"))
        l1.action_discard("cancelled by the plant")
        self._drain()
        self.assertEqual(l2.state, "done")
        self.assertEqual(self._order("L").history, "l2")

    def _claimed_elsewhere(self, messages, token="another-drain"):
        """What another drain's committed claim leaves: its messages 'processing' with its token."""
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE mfg_message SET state = 'processing', claim_token = %s, claimed_at = now() WHERE id IN %s",
            (token, tuple(messages.ids)),
        )
        self.env.invalidate_all()

    def test_key_busy_in_another_drain_is_left_alone(self):
        res = self._receive(
            self._payload("N0", order="N", step="n0"),
            self._payload("N1", order="N", step="n1"),
            self._payload("N2", order="N", step="n2"),
            self._payload("O1", order="O", step="o1"),
        )
        n0, n1, n2, o1 = self.Message.browse([r["id"] for r in res])
        # Another drain is applying N0: nothing of key N may be applied here meanwhile.
        self._claimed_elsewhere(n0)
        result = self._drain()
        self.assertIn("claimed 1,", result, "the claim leaves key N alone")
        self.assertEqual((n1.state, n2.state), ("received", "received"), "not even claimed")
        self.assertEqual(o1.state, "done", "other keys go on")
        # The other drain finishes N0: N1 and N2 follow, in order.
        n0._mfg_process()
        self.assertEqual(n0.state, "done")
        self._drain()
        self.assertEqual((n1.state, n2.state), ("done", "done"))
        self.assertEqual(self._order("N").history, "n0,n1,n2")

    def test_later_message_waits_for_an_earlier_one_claimed_elsewhere(self):
        res = self._receive(
            self._payload("P1", order="P", step="p1"),
            self._payload("P2", order="P", step="p2"),
            self._payload("Q1", order="Q", step="q1"),
        )
        p1, p2, q1 = self.Message.browse([r["id"] for r in res])
        # Two claims raced: another drain holds P1, this one got P2 and Q1.
        self._claimed_elsewhere(p1, "other")
        self._claimed_elsewhere(p2 | q1, "mine")
        self.assertEqual((p2 | q1)._mfg_held_back("mine"), {p2.id}, "P2 must wait for P1, Q1 need not")
        stats = self.backend._mfg_process_claimed(p2 | q1, "mine")
        self.env.invalidate_all()
        self.assertEqual(stats, {"claimed": 2, "done": 1, "held": 1})
        self.assertEqual((p2.state, q1.state), ("queued", "done"), "P2 given back for a later drain")
        p1._mfg_process()
        self._drain()
        self.assertEqual(self._order("P").history, "p1,p2")

    def test_messages_of_one_key_in_one_batch_apply_in_order_and_stop_at_a_failure(self):
        res = self._receive(
            self._payload("K1", order="K", step="k1"),
            self._payload("K2", order="K", step="k2", fail="business"),
            self._payload("K3", order="K", step="k3"),
        )
        k1, k2, k3 = self.Message.browse([r["id"] for r in res])
        result = self._drain()
        self.assertIn("claimed 3, done 1, held by ordering key 1", result)
        self.assertEqual((k1.state, k2.state, k3.state), ("done", "failed", "queued"))
        self.assertEqual(self._order("K").history, "k1")


@tagged("post_install", "-at_install")
class TestCrons(MfgPipelineCase):
    def _summary(self, etype):
        return f"Late messages: {etype.contract}"

    def _late_activities(self, backend, etype):
        backend.invalidate_recordset(["activity_ids"])
        return backend.activity_ids.filtered(lambda a: a.summary == self._summary(etype))

    def test_late_messages_one_activity_per_backend_and_type(self):
        other = self._create_backend("Other plant", "other-plant")
        quiet = self._create_backend("Quiet plant", "quiet-plant")
        two_hours_ago = fields.Datetime.now() - timedelta(hours=2)

        late_in = self.Message.browse(
            [r["id"] for r in self._receive(*[self._payload(f"late-{i}", order=f"L{i}") for i in range(3)])]
        )
        late_out = self.backend._mfg_outbox("test.order_notice", {"order": "L0"})
        late_other = self.Message.browse([self._receive(self._payload("late-o"), backend=other)[0]["id"]])
        # Old but done, and young: not late.
        old_done = self._receive_one(self._payload("old-done", order="Q1"), backend=quiet)
        quiet._mfg_drain("inbound", "root.mfg")
        self._receive_one(self._payload("young", order="Q2"), backend=quiet)
        self._set_column(late_in | late_out | late_other | old_done, "received_at", two_hours_ago)

        created = self.env["mfg.backend"]._cron_mfg_late_messages()
        again = self.env["mfg.backend"]._cron_mfg_late_messages()

        self.assertEqual(created, 3)
        self.assertEqual(again, 0, "the cron does not stack activities")
        activity = self._late_activities(self.backend, self.etype_in)
        self.assertEqual(len(activity), 1)
        self.assertIn("3 message(s)", str(activity.note))
        self.assertEqual(
            activity.activity_type_id, self.env.ref("mfg_integration_base.mail_activity_mfg_late")
        )
        self.assertTrue(activity.user_id.has_group("mfg_integration_base.group_mfg_manager"))
        self.assertEqual(len(self._late_activities(self.backend, self.etype_out)), 1)
        self.assertEqual(len(self._late_activities(other, self.etype_in)), 1)
        self.assertFalse(quiet.activity_ids)
        self.assertEqual(len(self.backend.activity_ids), 2)

    def test_retention_deletes_old_done_messages_only(self):
        self.assertEqual(self.etype_in.retention_days, 30)
        old_done = self._receive_one(self._payload("ret-1", order="RT1"))
        new_done = self._receive_one(self._payload("ret-2", order="RT2"))
        old_failed = self._receive_one(self._payload("ret-3", order="RT3", fail="business"))
        self._drain()
        self.assertEqual((old_done | new_done | old_failed).mapped("state"), ["done", "done", "failed"])
        now = fields.Datetime.now()
        self._set_column(old_done | old_failed, "processed_at", now - timedelta(days=40))
        self._set_column(new_done, "processed_at", now - timedelta(days=5))

        deleted = self.env["mfg.backend"]._cron_mfg_retention()

        self.assertEqual(deleted, 1)
        self.assertFalse(old_done.exists())
        self.assertTrue(new_done.exists())
        self.assertTrue(old_failed.exists(), "a failed message is kept whatever its age")
        # The idempotency key of a deleted message is free again (a redelivery is a new message).
        self.assertEqual(
            self.Message.search_count([("backend_id", "=", self.backend.id), ("external_id", "=", "ret-1")]),
            0,
        )

    def test_retention_zero_keeps_everything(self):
        self.etype_in.retention_days = 0
        msg = self._receive_one(self._payload("ret-0", order="RT0"))
        self._drain()
        self._set_column(msg, "processed_at", fields.Datetime.now() - timedelta(days=4000))
        self.env["mfg.backend"]._cron_mfg_retention()
        self.assertTrue(msg.exists())


@tagged("post_install", "-at_install")
class TestExchangeTypeValidation(MfgPipelineCase):
    def _new_type(self, **vals):
        return self.env["mfg.exchange.type"].create(
            {"name": "Scratch", "code": "test.scratch", "direction": "inbound", **vals}
        )

    def test_invalid_json_schema_refused(self):
        with self.assertRaisesMatch(ValidationError, r"Invalid JSON Schema at type"):
            self.etype_in.json_schema = '{"type": "objekt"}'
        with self.assertRaisesMatch(ValidationError, "not valid JSON"):
            self._new_type(json_schema='{"type": "object",')
        with self.assertRaisesMatch(ValidationError, "must be a JSON object"):
            self._new_type(json_schema="[]")
        self.assertIn('"required"', self.etype_in.json_schema, "the stored schema is unchanged")

    def test_handler_must_exist(self):
        with self.assertRaisesMatch(ValidationError, "'_mfg_no_such_handler' is not a handler method"):
            self.etype_in.handler_method = "_mfg_no_such_handler"
        with self.assertRaisesMatch(
            ValidationError, "handler model 'mfg.no.such.model' is not a handler model"
        ):
            self._new_type(handler_model="mfg.no.such.model", handler_method="anything")
        with self.assertRaisesMatch(ValidationError, "is not a handler method"):
            self._new_type(handler_model="mfg.test.order", handler_method="__init__")
        ok = self._new_type(handler_model="mfg.test.order", handler_method="_mfg_handle_order_report")
        self.assertEqual(ok.contract, "test.scratch.v1")

    def test_invalid_code_and_pointer_refused(self):
        with self.assertRaisesMatch(ValidationError, "is not valid"):
            self._new_type(code="Scratch")
        with self.assertRaisesMatch(ValidationError, "is not a JSON pointer"):
            self._new_type(ordering_key_pointer="order")

    def test_backend_refuses_type_not_in_its_flows(self):
        closed = self.env["mfg.backend"].create({"name": "No flows", "code": "no-flows"})
        with self.assertRaisesMatch(
            UserError, "Backend no-flows is not enabled for exchange type test.order_report"
        ):
            self._receive(self._payload("nf-1"), backend=closed)
        with self.assertRaisesMatch(UserError, "not enabled"):
            closed._mfg_outbox("test.order_notice", {"order": "A"})
        self.assertFalse(self.Message.search([("backend_id", "=", closed.id)]))

    def test_backend_refuses_type_of_disabled_flow(self):
        self.backend.flow_ids.filtered(lambda f: f.exchange_type_id == self.etype_in).active = False
        with self.assertRaisesMatch(UserError, "not enabled"):
            self._receive(self._payload("df-1"))

    def test_backend_refuses_wrong_direction(self):
        with self.assertRaisesMatch(UserError, "is outbound, not inbound"):
            self._receive(self._payload("wd-1"), etype=self.etype_out)

    def test_flow_listed_once_per_backend(self):
        with mute_logger("odoo.sql_db"), self.assertRaises(UniqueViolation):
            self.backend.write({"flow_ids": [Command.create({"exchange_type_id": self.etype_in.id})]})
            self.env.flush_all()


@tagged("post_install", "-at_install")
class TestSyncClass(MfgPipelineCase):
    """Batch exchange types wait for the scheduled drain; real-time ones start a drain at once."""

    def test_batch_flow_waits_for_the_cron(self):
        self.etype_in.sync_class = "batch"
        jobs_before = self._drain_jobs()
        msg = self._receive_one(self._payload("batch-1", order="B1"))
        self.assertEqual(self._drain_jobs(), jobs_before, "no drain job for a batch exchange type at receive")
        self._drain()  # a real-time drain leaves batch exchange types alone
        self.assertEqual(msg.state, "received")
        self.assertFalse(self._order("B1"))
        self.env["mfg.backend"]._cron_mfg_drain_due()
        new_jobs = self._drain_jobs() - jobs_before
        self.assertEqual(
            len(new_jobs), drain_partitions(), "the cron starts drains that include batch exchange types"
        )
        self.assertTrue(all(":all:" in key for key in new_jobs.mapped("identity_key")))
        self._drain(include_batch=True)
        self.assertEqual(msg.state, "done")
        self.assertEqual(self._order("B1").applied_count, 1)

    def test_realtime_flow_starts_a_drain_at_receive(self):
        jobs_before = self._drain_jobs()
        self._receive_one(self._payload("rt-1", order="R1"))
        self.assertEqual(len(self._drain_jobs() - jobs_before), drain_partitions())
