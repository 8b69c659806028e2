import json

from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase, tagged

from ..lib.schema_compat import breaking_changes

BASE = {
    "type": "object",
    "required": ["message_id", "work_order", "quantity"],
    "properties": {
        "message_id": {"type": "string"},
        "work_order": {"type": "string"},
        "quantity": {"type": "number"},
        "status": {"type": "string", "enum": ["ok", "nok"]},
        "lines": {
            "type": "array",
            "items": {"type": "object", "required": ["lot"], "properties": {"lot": {"type": "string"}}},
        },
    },
}


def variant(change):
    schema = json.loads(json.dumps(BASE))
    change(schema)
    return json.dumps(schema)


@tagged("post_install", "-at_install")
class TestContractGovernance(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.etype = cls.env["mfg.exchange.type"].create(
            {
                "name": "Governed",
                "code": "gov.contract",
                "version": 1,
                "direction": "inbound",
                "json_schema": json.dumps(BASE),
            }
        )

    def assertRefused(self, schema_text, field):
        with self.assertRaises(ValidationError) as cm:
            self.etype.json_schema = schema_text
        self.assertIn(f"field '{field}'", str(cm.exception))
        self.assertIn("gov.contract.v1", str(cm.exception))
        self.assertEqual(json.loads(self.etype.json_schema), BASE, "the stored schema is unchanged")

    def test_required_field_removed_or_renamed_refused(self):
        def rename(s):
            s["properties"]["work_order_ref"] = s["properties"].pop("work_order")
            s["required"] = ["message_id", "work_order_ref", "quantity"]

        self.assertRefused(variant(rename), "work_order")

    def test_property_removed_refused(self):
        self.assertRefused(variant(lambda s: s["properties"].pop("status")), "status")

    def test_type_changed_refused(self):
        self.assertRefused(variant(lambda s: s["properties"]["quantity"].update(type="string")), "quantity")

    def test_nested_and_enum_changes_refused(self):
        self.assertRefused(
            variant(lambda s: s["properties"]["lines"]["items"]["properties"]["lot"].update(type="integer")),
            "lines/[]/lot",
        )
        self.assertRefused(variant(lambda s: s["properties"]["status"].update(enum=["ok"])), "status")

    def test_new_required_field_refused(self):
        def add_required(s):
            s["properties"]["operator"] = {"type": "string"}
            s["required"].append("operator")

        self.assertRefused(variant(add_required), "operator")

    def test_optional_field_added_is_fine(self):
        def add(s):
            s["properties"]["operator"] = {"type": "string", "description": "who"}
            s["properties"]["quantity"]["type"] = ["number", "null"]  # widened: fine

        self.etype.json_schema = variant(add)
        self.assertIn("operator", self.etype.json_schema)
        self.assertEqual(self.etype.version, 1)

    def test_breaking_change_with_version_bump_is_accepted(self):
        schema = variant(lambda s: s["properties"].pop("status"))
        self.etype.write({"json_schema": schema, "version": 2})
        self.assertEqual(self.etype.contract, "gov.contract.v2")
        self.assertNotIn("status", json.loads(self.etype.json_schema)["properties"])

    def test_pure_function(self):
        self.assertEqual(breaking_changes(BASE, BASE), [])
        widened = json.loads(json.dumps(BASE))
        widened["properties"]["quantity"] = {"type": "number", "description": "how many"}
        widened["properties"]["message_id"]["type"] = ["string", "integer"]
        self.assertEqual(breaking_changes(BASE, widened), [])
        integer = {"type": "object", "properties": {"q": {"type": "integer"}}}
        number = {"type": "object", "properties": {"q": {"type": "number"}}}
        self.assertEqual(breaking_changes(integer, number), [])
        self.assertEqual(breaking_changes(number, integer)[0][0], "q")

    def test_tightened_constraints_are_breaking(self):
        """Issue 12 item 7: each of these refuses a message the old version accepted."""
        cases = [
            ({"type": "string", "maxLength": 64}, {"type": "string", "maxLength": 8}, "maxLength"),
            ({"type": "string"}, {"type": "string", "maxLength": 8}, "maxLength"),
            ({"type": "string"}, {"type": "string", "pattern": "^[A-Z]+$"}, "pattern"),
            ({"type": "string", "pattern": "^A"}, {"type": "string", "pattern": "^AB"}, "pattern"),
            ({"type": "string", "minLength": 1}, {"type": "string", "minLength": 3}, "minLength"),
            ({"type": "string"}, {"type": "string", "format": "date-time"}, "format"),
            ({"type": "number", "minimum": 0}, {"type": "number", "minimum": 10}, "minimum"),
            ({"type": "number"}, {"type": "number", "minimum": 0}, "minimum"),
            ({"type": "number", "minimum": 0}, {"type": "number", "exclusiveMinimum": 0}, "minimum"),
            ({"type": "number", "maximum": 100}, {"type": "number", "maximum": 50}, "maximum"),
            ({"type": "number", "maximum": 100}, {"type": "number", "exclusiveMaximum": 100}, "maximum"),
            ({"type": "number"}, {"type": "number", "multipleOf": 0.5}, "multipleOf"),
            ({"type": "number", "multipleOf": 0.5}, {"type": "number", "multipleOf": 1}, "multipleOf"),
            ({"type": "array", "maxItems": 10}, {"type": "array", "maxItems": 2}, "maxItems"),
            ({"type": "array"}, {"type": "array", "minItems": 1}, "minItems"),
            ({"type": "array"}, {"type": "array", "uniqueItems": True}, "unique"),
            ({"type": "array"}, {"type": "array", "items": {"type": "string"}}, "type"),
            ({"type": "object"}, {"type": "object", "additionalProperties": False}, "additionalProperties"),
            ({"type": "object"}, {"type": "object", "maxProperties": 3}, "maxProperties"),
            ({"type": "string"}, {"type": "string", "const": "x"}, "constant"),
            ({"type": "string"}, {"type": "string", "oneOf": [{"maxLength": 2}]}, "oneOf"),
            ({"type": ["string", "null"]}, {"type": "string"}, "type"),
            ({"enum": ["a", "b"]}, {"enum": ["a"]}, "removed"),
        ]
        for old, new in ((o, n) for o, n, _w in cases):
            old_s = {"type": "object", "properties": {"f": old}}
            new_s = {"type": "object", "properties": {"f": new}}
            with self.subTest(old=old, new=new):
                found = breaking_changes(old_s, new_s)
                word = next(w for o, n, w in cases if o is old and n is new)
                self.assertTrue(found, "not reported as breaking")
                self.assertTrue(any(w == "f" or w.startswith("f/") for w, _r in found), found)
                self.assertIn(word, " ".join(r for _w, r in found))
        required = {"type": "object", "properties": {"a": {"type": "string"}}}
        self.assertEqual(
            breaking_changes(required, dict(required, required=["a"])), [("a", "new required field")]
        )

    def test_loosened_constraints_are_not_breaking(self):
        cases = [
            ({"type": "string", "maxLength": 8}, {"type": "string", "maxLength": 64}),
            ({"type": "string", "maxLength": 8}, {"type": "string"}),
            ({"type": "string", "pattern": "^A"}, {"type": "string"}),
            ({"type": "string", "minLength": 3}, {"type": "string", "minLength": 1}),
            ({"type": "number", "minimum": 10}, {"type": "number", "minimum": 0}),
            ({"type": "number", "exclusiveMinimum": 0}, {"type": "number", "minimum": 0}),
            ({"type": "number", "maximum": 50}, {"type": "number", "exclusiveMaximum": 100}),
            ({"type": "number", "multipleOf": 1}, {"type": "number", "multipleOf": 0.5}),
            ({"type": "integer"}, {"type": "number"}),
            ({"enum": ["a"]}, {"enum": ["a", "b"]}),
            ({"const": "a"}, {"enum": ["a", "b"]}),
            ({"type": "object", "additionalProperties": False}, {"type": "object"}),
            ({"type": "array", "uniqueItems": True, "maxItems": 2}, {"type": "array"}),
            ({"type": "string", "oneOf": [{"maxLength": 2}]}, {"type": "string", "title": "any"}),
        ]
        for old, new in cases:
            with self.subTest(old=old, new=new):
                self.assertEqual(breaking_changes(old, new), [])

    def test_tightened_max_length_refused_on_save(self):
        def tighten(s):
            s["properties"]["work_order"]["maxLength"] = 8

        self.assertRefused(variant(tighten), "work_order")


@tagged("post_install", "-at_install")
class TestConfigurationAudit(TransactionCase):
    """Configuration changes are traceable to a user and a time, secrets by the fact only."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.etype = cls.env["mfg.exchange.type"].create(
            {"name": "Audited", "code": "gov.audited", "direction": "inbound"}
        )
        cls.backend = cls.env["mfg.backend"].create({"name": "Audit plant", "code": "gov-audit"})
        # as if created earlier: Odoo does not track changes of records created in the same transaction
        cls.env.flush_all()
        cls.env.cr.flush()

    def _notes(self, record):
        self.env.flush_all()
        self.env.cr.flush()  # tracking values are written at commit
        return record.message_ids

    def test_flow_and_mapping_changes_on_backend_chatter(self):
        flow = self.env["mfg.backend.flow"].create(
            {"backend_id": self.backend.id, "exchange_type_id": self.etype.id}
        )
        flow.active = False
        mapping = self.env["mfg.code.mapping"].create(
            {"backend_id": self.backend.id, "kind": "defect", "external_code": "D-17", "value": "crack"}
        )
        mapping.value = "scratch"
        mapping.unlink()
        bodies = " | ".join(self._notes(self.backend).mapped("body"))
        self.assertIn("Flow(s) added", bodies)
        self.assertIn("gov.audited.v1", bodies)
        self.assertIn("Flow(s) changed", bodies)
        self.assertIn("Code mapping(s) added", bodies)
        self.assertIn("defect:D-17 → crack ⇒ defect:D-17 → scratch", bodies)
        self.assertIn("Code mapping(s) removed", bodies)
        self.assertTrue(all(m.author_id == self.env.user.partner_id for m in self.backend.message_ids))

    def test_exchange_type_policy_tracked(self):
        self.etype.write({"max_attempts": 9, "sla_minutes": 5, "retention_days": 7})
        tracked = self._notes(self.etype).tracking_value_ids.field_id.mapped("name")
        for fname in ("max_attempts", "sla_minutes", "retention_days"):
            self.assertIn(fname, tracked)

    def test_secrets_tracked_without_value(self):
        self.backend.write({"http_token": "tok-123", "mqtt_password": "pw-456", "name": "Audit plant 2"})
        messages = self._notes(self.backend)
        text = " | ".join(messages.mapped("body"))
        self.assertIn("HTTP bearer token", text)
        self.assertIn("Broker password", text)
        values = messages.tracking_value_ids
        for secret in ("tok-123", "pw-456"):
            self.assertNotIn(secret, text)
            self.assertNotIn(secret, " ".join(str(v) for v in values.mapped("new_value_char")))
        self.assertIn("name", values.field_id.mapped("name"))
