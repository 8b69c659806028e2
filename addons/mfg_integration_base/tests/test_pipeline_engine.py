"""The ORM-free parts of the engine (pipeline/), tested without a database."""

from types import SimpleNamespace

import psycopg2.errors

from odoo.exceptions import UserError
from odoo.tests import BaseCase, tagged

from ..exceptions import MfgMappingError, MfgTransientError, MfgValidationError
from ..pipeline import claim, outcome, process, receive, states
from ..transports.mqtt import routing

# What the receive step reads of an exchange type.
ORDER_REPORT = SimpleNamespace(
    json_schema='{"type": "object", "required": ["qty"]}',
    external_id_pointer="/id",
    correlation_id_pointer="/order",
    ordering_key_pointer="/plant,/order",
)


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

    def test_payload_text_keeps_bytes_and_never_a_nul(self):
        self.assertEqual(receive.payload_text(b'{"a": 1}'), '{"a": 1}')
        self.assertEqual(receive.payload_text(b"\xff{}"), "\ufffd{}", "bad bytes replaced, not lost")
        self.assertEqual(receive.payload_text("a\x00b"), "a\ufffdb")
        self.assertEqual(receive.payload_text({"a": 1}), '{"a": 1}')
        self.assertEqual(receive.payload_text(b"\x00\xff", raw_fallback=True), "base64:AP8=")

    def test_read_item_takes_the_ids_from_the_payload(self):
        columns, result = receive.read_item(
            {"payload": '{"id": "R-1", "order": "MO-7", "plant": "P1", "qty": 2}', "headers": {"topic": "t"}},
            ORDER_REPORT,
            validate=True,
        )
        self.assertEqual(columns["state"], "queued", "validated now: queued for the drain")
        self.assertEqual(
            (columns["external_id"], columns["correlation_id"], columns["ordering_key"]),
            ("R-1", "MO-7", "P1|MO-7"),
        )
        self.assertEqual(columns["headers"], '{"topic": "t"}')
        self.assertEqual(result, {"external_id": "R-1", "state": "queued", "error": None, "errors": []})

    def test_read_item_rejects_what_breaks_the_contract_and_keeps_it(self):
        columns, result = receive.read_item({"payload": '{"id": "R-2"}'}, ORDER_REPORT, validate=True)
        self.assertEqual((columns["state"], columns["error_class"]), ("rejected", "validation"))
        self.assertIn("qty", columns["error_message"])
        self.assertEqual(columns["payload"], '{"id": "R-2"}')
        self.assertEqual(
            result["external_id"], "R-2", "a rejected message keeps its id: a resend is a duplicate"
        )
        columns, _result = receive.read_item({"payload": "not json"}, ORDER_REPORT)
        self.assertEqual(columns["state"], "rejected")
        self.assertIsNone(columns["external_id"])
        columns, _result = receive.read_item({"payload": '{"id": "R-3", "qty": 1}'}, ORDER_REPORT)
        self.assertEqual(columns["state"], "received", "checked by the drain when not validated now")

    def test_read_item_drops_an_id_the_index_cannot_keep(self):
        columns, result = receive.read_item(
            {"payload": '{"id": "R-4", "order": "MO-1", "qty": 1}', "external_id": "x" * 300}, ORDER_REPORT
        )
        self.assertEqual(columns["state"], "rejected")
        self.assertIn("message id is 300 characters long", columns["error_message"])
        self.assertEqual((columns["external_id"], columns["correlation_id"]), (None, None))
        self.assertIsNone(result["external_id"])
        columns, _result = receive.read_item(
            {"payload": '{"qty": 1}', "reject_reason": "Line 3: 7 fields, 9 expected"}, ORDER_REPORT
        )
        self.assertEqual(
            (columns["state"], columns["error_message"]), ("rejected", "Line 3: 7 fields, 9 expected")
        )

    def test_match_ids_recognises_duplicates(self):
        results = [
            {"external_id": "A", "state": "received", "error": None, "errors": []},
            {"external_id": None, "state": "rejected", "error": "bad", "errors": []},
            {"external_id": "A", "state": "received", "error": None, "errors": []},
            {"external_id": "B", "state": "rejected", "error": "bad", "errors": [{"path": "/x"}]},
            {"external_id": None, "state": "received", "error": None, "errors": []},
        ]
        receive.match_ids(results, [(12, None), (10, "A"), (11, None)], {"B": (3, "done")})
        self.assertEqual(
            [(r["id"], r["duplicate"]) for r in results],
            [(10, False), (11, False), (10, True), (3, True), (12, False)],
        )
        self.assertEqual((results[3]["state"], results[3]["error"], results[3]["errors"]), ("done", None, []))

    def test_mqtt_groups_by_backend_and_topic_type(self):
        def msg(backend_id, topic, bare=False):
            return SimpleNamespace(backend_id=backend_id, topic=topic, bare=bare)

        a1, b1, a2, lost = (
            msg(1, "plant/a/order_report"),
            msg(2, "x/order_report"),
            msg(1, "q/order_report"),
            msg(3, "p/scrap", bare=True),
        )
        bare, groups = routing.mqtt_groups([lost, a1, b1, a2])
        self.assertEqual(bare, [lost])
        self.assertEqual(groups, {(1, "order_report"): [a1, a2], (2, "order_report"): [b1]}, "no empty group")

    def test_classify_errors(self):
        self.assertEqual(process.classify(MfgValidationError("bad")), ("validation", False))
        self.assertEqual(process.classify(MfgMappingError("no mapping")), ("mapping", False))
        self.assertEqual(process.classify(MfgTransientError("busy")), ("transient", True))
        self.assertEqual(process.classify(psycopg2.errors.SerializationFailure()), ("transient", True))
        self.assertEqual(process.classify(UserError("closed order")), ("business", False))
        self.assertEqual(process.classify(KeyError("x")), ("internal", False))

    def test_failure_state_after_an_attempt(self):
        self.assertEqual(process.failure_state("validation", False, 1, 5), "rejected")
        self.assertEqual(process.failure_state("transient", True, 4, 5), "retrying")
        self.assertEqual(process.failure_state("transient", True, 5, 5), "dead")
        self.assertEqual(process.failure_state("mapping", False, 1, 5), "failed")

    def test_retry_seconds_follow_the_policy_or_the_other_side(self):
        policy = SimpleNamespace(retry_delay=10, retry_backoff=2, retry_jitter=0, retry_max_delay=60)
        self.assertEqual(process.retry_seconds(MfgTransientError("busy"), 3, policy), 40)
        self.assertEqual(process.retry_seconds(MfgTransientError("busy"), 9, policy), 60)
        self.assertEqual(process.retry_seconds(MfgTransientError("busy", retry_after=7), 3, policy), 7)
        self.assertLessEqual(process.retry_seconds(psycopg2.errors.DeadlockDetected(), 1, policy), 1.5)
        self.assertEqual(process.error_text(KeyError("x")), "x")

    def test_done_outcome_clears_the_last_error(self):
        vals = outcome.done(2, "2024-01-01 00:00:00", 15, response="r" * 20000)
        self.assertEqual(vals["state"], "done")
        for column in ("error_class", "error_message", "error_path", "next_attempt_at", "claim_token"):
            self.assertIsNone(vals[column], column)
        self.assertEqual(len(vals["response"]), outcome.MAX_RESPONSE)
        self.assertNotIn("response", outcome.done(1, "2024-01-01 00:00:00", 0), "a stored answer is kept")
        self.assertLessEqual(set(outcome.DONE_COLUMNS), set(vals))
