import json
import random
import time

from odoo.tests import BaseCase, tagged

from ..exceptions import MfgValidationError
from ..lib import contract
from ..lib.retry_policy import retry_delay
from ..transports.http import webhook_signing

SCHEMA = json.dumps(
    {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["order", "quantity"],
        "properties": {
            "order": {"type": "string"},
            "quantity": {"type": "number", "exclusiveMinimum": 0},
            "lines": {
                "type": "array",
                "items": {"type": "object", "required": ["qty"], "properties": {"qty": {"type": "number"}}},
            },
        },
    }
)


@tagged("post_install", "-at_install")
class TestContract(BaseCase):
    """lib.contract: JSON parsing and JSON Schema errors in plain words."""

    def _error(self, data, schema=SCHEMA):
        with self.assertRaises(MfgValidationError) as caught:
            contract.validate(schema, data)
        return caught.exception

    def test_valid_payload_passes(self):
        self.assertIsNone(contract.validate(SCHEMA, {"order": "A", "quantity": 2, "lines": [{"qty": 1}]}))
        self.assertIsNone(contract.validate("", {"anything": True}), "no schema: any object")

    def test_error_names_the_field_path(self):
        exc = self._error({"order": "A", "quantity": "ten"})
        self.assertEqual(exc.path, "/quantity")
        self.assertIn("field '/quantity'", exc.message)
        self.assertIn('"ten"', exc.message)
        self.assertEqual(exc.error_class, "validation")

    def test_composite_ordering_key(self):
        data = {"lot": "L-1", "product": "RES-1", "qty": 2, "lines": [{"a": 1}]}
        self.assertEqual(contract.composite_key(data, "/lot"), "L-1")
        self.assertEqual(contract.composite_key(data, "/lot, /product"), "L-1|RES-1")
        self.assertIsNone(contract.composite_key(data, "/lot,/missing"), "a missing part: no key")
        self.assertIsNone(contract.composite_key(data, "/lines"), "a list is no key")
        self.assertIsNone(contract.composite_key(data, ""))
        self.assertTrue(contract.valid_pointer("/lot, /product"))
        self.assertFalse(contract.valid_pointer("/lot, product"))

    def test_date_time_format_is_checked(self):
        schema = json.dumps(
            {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}}
        )
        self.assertIsNone(contract.validate(schema, {"at": "2026-11-28T10:00:00Z"}))
        exc = self._error({"at": "yesterday"}, schema)
        self.assertEqual(exc.path, "/at")
        self.assertIn("is not a 'date-time'", exc.message)

    def test_error_in_list_item_names_the_index(self):
        exc = self._error({"order": "A", "quantity": 1, "lines": [{"qty": 1}, {"qty": "x"}]})
        self.assertEqual(exc.path, "/lines/1/qty")
        self.assertIn("field '/lines/1/qty'", exc.message)

    def test_missing_field_and_every_error_listed(self):
        exc = self._error({"order": 7, "quantity": -1, "lines": [{}]})
        self.assertEqual([e["path"] for e in exc.errors], ["/lines/0", "/order", "/quantity"])
        self.assertIn("'qty' is a required property", exc.message)
        self.assertIn("field '/order'", exc.message)
        self.assertIn("field '/quantity'", exc.message)
        exc = self._error({"order": "A"})
        self.assertEqual(exc.path, "/")
        self.assertIn("the payload: 'quantity' is a required property", exc.message)

    def test_many_errors_are_capped(self):
        schema = json.dumps({"type": "object", "additionalProperties": {"type": "integer"}})
        exc = self._error({f"k{i:02d}": "x" for i in range(15)}, schema)
        self.assertEqual(len(exc.errors), 15)
        self.assertIn("(and 5 more)", exc.message)

    def test_parse_json_refuses_non_json(self):
        with self.assertRaisesRegex(MfgValidationError, "not valid JSON"):
            contract.parse_json("order=A;qty=1")
        with self.assertRaisesRegex(MfgValidationError, "not valid JSON"):
            contract.parse_json("")

    def test_parse_json_refuses_non_utf8(self):
        with self.assertRaisesRegex(MfgValidationError, r"not UTF-8 text \(invalid byte at position 12\)"):
            contract.parse_json(b'{"order": "A\xe9"}')

    def test_parse_json_refuses_non_object(self):
        with self.assertRaisesRegex(MfgValidationError, "must be a JSON object, got list"):
            contract.parse_json("[1, 2]")
        with self.assertRaisesRegex(MfgValidationError, "must be a JSON object, got int"):
            contract.parse_json(b"42")

    def test_parse_json_refuses_deep_nesting(self):
        """A payload nested thousands deep made json.loads raise RecursionError, which nothing
        caught: the MQTT listener retried it forever (issue 12, item 1)."""
        for depth in (contract.MAX_DEPTH + 1, 5000, 50000):
            raw = '{"a": ' + "[" * depth + "]" * depth + "}"
            with self.assertRaisesRegex(MfgValidationError, "more than 64 levels deep"):
                contract.parse_json(raw)
        shallow = '{"a": ' + "[" * (contract.MAX_DEPTH - 1) + "]" * (contract.MAX_DEPTH - 1) + "}"
        self.assertIn("a", contract.parse_json(shallow))

    def test_parse_json_refuses_non_finite_numbers(self):
        """NaN passes every bound of a schema and Python's json accepts it: refused at parse time."""
        for text, shown in (("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "-Infinity")):
            with self.assertRaisesRegex(MfgValidationError, f"holds {shown}, which is no JSON number"):
                contract.parse_json(f'{{"quantity": {text}}}')
        with self.assertRaisesRegex(MfgValidationError, "number 1e309, which is too large"):
            contract.parse_json(b'{"quantity": 1e309}')
        self.assertEqual(contract.parse_json('{"quantity": 1e308}')["quantity"], 1e308)

    def test_parse_json_accepts_utf8_bytes(self):
        self.assertEqual(contract.parse_json('{"order": "Å-1"}'.encode()), {"order": "Å-1"})

    def test_check_schema(self):
        self.assertEqual(contract.check_schema(SCHEMA)["type"], "object")
        with self.assertRaisesRegex(ValueError, "Invalid JSON Schema at properties/quantity/type"):
            contract.check_schema(json.dumps({"properties": {"quantity": {"type": "numeric"}}}))
        with self.assertRaisesRegex(ValueError, "not valid JSON"):
            contract.check_schema("{")

    def test_resolve_pointer(self):
        data = {"order": {"lines": [{"qty": 3}]}, "a/b": 1, "zero": 0}
        self.assertEqual(contract.resolve_pointer(data, "/order/lines/0/qty"), 3)
        self.assertEqual(contract.resolve_pointer(data, "/a~1b"), 1)
        self.assertEqual(contract.resolve_pointer(data, "/zero"), 0)
        self.assertIsNone(contract.resolve_pointer(data, "/order/lines/5/qty"))
        self.assertIsNone(contract.resolve_pointer(data, "/missing"))
        self.assertIsNone(contract.resolve_pointer(data, ""))


@tagged("post_install", "-at_install")
class TestRetryPolicy(BaseCase):
    def test_exponential_growth_without_jitter(self):
        self.assertEqual([retry_delay(n, 10, 2, 0, 3600) for n in (1, 2, 3, 4)], [10, 20, 40, 80])

    def test_capped(self):
        self.assertEqual(retry_delay(5, 10, 2, 0, 100), 100)
        self.assertEqual(retry_delay(30, 30, 2, 0, 3600), 3600)
        self.assertEqual(retry_delay(30, 30, 2, 0, 0), 30 * 2**29, "0 = no cap")

    def test_jitter_stays_within_bounds(self):
        rng = random.Random(42)
        delays = {retry_delay(2, 10, 2, 0.2, 3600, rng=rng) for _i in range(200)}
        self.assertTrue(all(16 <= d <= 24 for d in delays))
        self.assertGreater(len(delays), 100, "messages failing together are spread out")


@tagged("post_install", "-at_install")
class TestSigning(BaseCase):
    BODY = b'{"order": "A", "quantity": 3}'

    def test_round_trip(self):
        headers = webhook_signing.sign("secret", self.BODY)
        self.assertRegex(headers[webhook_signing.SIGNATURE_HEADER], r"^sha256=[0-9a-f]{64}$")
        self.assertTrue(
            webhook_signing.verify(
                "secret",
                self.BODY,
                headers[webhook_signing.TIMESTAMP_HEADER],
                headers[webhook_signing.SIGNATURE_HEADER],
            )
        )

    def test_tampered_body_fails(self):
        headers = webhook_signing.sign("secret", self.BODY)
        tampered = self.BODY.replace(b"3", b"30")
        self.assertFalse(
            webhook_signing.verify(
                "secret",
                tampered,
                headers[webhook_signing.TIMESTAMP_HEADER],
                headers[webhook_signing.SIGNATURE_HEADER],
            )
        )

    def test_wrong_secret_or_garbage_fails(self):
        headers = webhook_signing.sign("secret", self.BODY)
        ts, sig = headers[webhook_signing.TIMESTAMP_HEADER], headers[webhook_signing.SIGNATURE_HEADER]
        self.assertFalse(webhook_signing.verify("other", self.BODY, ts, sig))
        self.assertFalse(webhook_signing.verify("secret", self.BODY, "yesterday", sig))
        self.assertFalse(webhook_signing.verify("secret", self.BODY, ts, None))
        self.assertFalse(
            webhook_signing.verify("secret", self.BODY, str(int(ts) + 1), sig), "timestamp is signed"
        )

    def test_stale_timestamp_fails(self):
        old = int(time.time()) - 3600
        headers = webhook_signing.sign("secret", self.BODY, timestamp=old)
        ts, sig = headers[webhook_signing.TIMESTAMP_HEADER], headers[webhook_signing.SIGNATURE_HEADER]
        self.assertEqual(ts, str(old))
        self.assertFalse(webhook_signing.verify("secret", self.BODY, ts, sig))
        self.assertTrue(
            webhook_signing.verify("secret", self.BODY, ts, sig, now=old + 10), "valid when it was fresh"
        )
        self.assertTrue(webhook_signing.verify("secret", self.BODY, ts, sig, tolerance=7200))
