"""Property test of contract governance (lib/schema_compat.py, issue 12 item 7).

The promise of governance: a change it lets through without a version bump (no breaking change
reported) never refuses a message the old version accepted. Hypothesis builds an old contract
(the JSON Schema subset our contracts use), changes it at random — tightening, loosening, adding
keywords the old one did not have (pattern, multipleOf, exclusiveMaximum, const, oneOf...) — and,
whenever ``breaking_changes`` reports nothing, checks that values generated from the old schema
validate against the new one (jsonschema, with the format checker, as the pipeline validates).

Policy noted in schema_compat: adding an optional property is not breaking. The generated extra
properties of the old values never use the names the changes add (``zz_added_...``).
No server and no database are used.
"""

import copy

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from schema_strategies import valid

from odoo.addons.mfg_integration_base.lib.schema_compat import breaking_changes

VALUES_PER_PAIR = 8
SEEN = {"pairs": 0, "changed": 0}

small_ints = st.integers(min_value=-20, max_value=80)


@st.composite
def leaf_schemas(draw):
    kind = draw(st.sampled_from(["string", "string", "integer", "number", "boolean", "enum", "date"]))
    if kind == "enum":
        return {
            "type": "string",
            "enum": draw(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=4, unique=True)),
        }
    if kind == "date":
        return {"type": "string", "format": "date-time"}
    schema = {"type": kind}
    if kind == "string":
        low = draw(st.one_of(st.none(), st.integers(0, 5)))
        high = draw(st.one_of(st.none(), st.integers(max(low or 0, 1), 70)))
        if low is not None:
            schema["minLength"] = low
        if high is not None:
            schema["maxLength"] = high
    elif kind in ("integer", "number"):
        low = draw(st.one_of(st.none(), small_ints))
        if low is not None:
            schema["exclusiveMinimum" if draw(st.booleans()) else "minimum"] = low
        high = draw(st.one_of(st.none(), st.integers(min_value=(low or 0) + 2, max_value=200)))
        if high is not None:
            schema["maximum"] = high
    return schema


@st.composite
def property_schemas(draw, depth=0):
    choice = draw(st.integers(0, 5 if depth == 0 else 3))
    if choice == 4:
        items = draw(leaf_schemas())
        schema = {"type": "array", "items": items}
        if draw(st.booleans()):
            schema["maxItems"] = draw(st.integers(1, 5))
        if draw(st.booleans()):
            schema["minItems"] = draw(st.integers(0, schema.get("maxItems", 3)))
        if items.get("type") == "boolean" or items.get("enum"):
            return schema  # uniqueness over few values would make short lists only
        if draw(st.booleans()):
            schema["uniqueItems"] = True
        return schema
    if choice == 5:
        return draw(object_schemas(depth + 1))
    return draw(leaf_schemas())


@st.composite
def object_schemas(draw, depth=0):
    names = draw(
        st.lists(
            st.sampled_from(["id", "order", "qty", "lot", "uom", "at", "lines"]),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    props = {name: draw(property_schemas(depth)) for name in names}
    schema = {"type": "object", "properties": props}
    required = [n for n in names if draw(st.booleans())]
    if required:
        schema["required"] = required
    if draw(st.integers(0, 3)) == 0:
        schema["additionalProperties"] = False
    return schema


def _nodes(schema, path=()):
    """Every sub-schema of ``schema`` with its path (properties and items)."""
    yield path, schema
    for name, prop in (schema.get("properties") or {}).items():
        yield from _nodes(prop, (*path, "properties", name))
    if isinstance(schema.get("items"), dict):
        yield from _nodes(schema["items"], (*path, "items"))


def _at(schema, path):
    for token in path:
        schema = schema[token]
    return schema


CHANGES = [
    ("maxLength", st.integers(0, 80)),
    ("minLength", st.integers(0, 10)),
    ("pattern", st.sampled_from(["^[a-z]*$", "^.{0,3}$", "x"])),
    ("format", st.sampled_from(["date-time", "email"])),
    ("minimum", small_ints),
    ("exclusiveMinimum", small_ints),
    ("maximum", st.integers(-20, 220)),
    ("exclusiveMaximum", st.integers(-20, 220)),
    ("multipleOf", st.sampled_from([0.5, 1, 2, 3])),
    ("maxItems", st.integers(0, 6)),
    ("minItems", st.integers(0, 4)),
    ("uniqueItems", st.booleans()),
    ("maxProperties", st.integers(0, 4)),
    ("minProperties", st.integers(0, 4)),
    ("additionalProperties", st.sampled_from([False, True, {"type": "string"}])),
    ("const", st.sampled_from(["a", 1])),
    ("oneOf", st.just([{"type": "string"}, {"type": "number"}])),
    ("enum", st.lists(st.sampled_from("abcdef"), min_size=1, max_size=6, unique=True)),
    (
        "type",
        st.sampled_from(
            [
                "string",
                "integer",
                "number",
                "boolean",
                "object",
                "array",
                ["string", "null"],
                ["number", "string"],
            ]
        ),
    ),
    ("title", st.just("described")),
]


@st.composite
def changed(draw, old):
    """``old`` with 1 to 3 random changes: keywords set, changed or dropped; required fields
    added or dropped; optional properties added."""
    new = copy.deepcopy(old)
    for _ in range(draw(st.integers(1, 3))):
        path, node = draw(st.sampled_from(list(_nodes(new))))
        node = _at(new, path)
        action = draw(st.sampled_from(["set", "set", "set", "drop", "require", "unrequire", "add_property"]))
        if action == "set":
            key, values = draw(st.sampled_from(CHANGES))
            node[key] = draw(values)
        elif action == "drop" and node:
            node.pop(draw(st.sampled_from(sorted(node))))
        elif node.get("type") == "object" or "properties" in node:
            props = node.setdefault("properties", {})
            if action == "require" and props:
                node["required"] = sorted({*node.get("required", []), draw(st.sampled_from(sorted(props)))})
            elif action == "unrequire" and node.get("required"):
                node["required"] = node["required"][1:]
            elif action == "add_property":
                props[f"zz_added_{len(props)}"] = draw(property_schemas(1))
    return new


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_values_of_the_old_contract_pass_a_non_breaking_new_one(data):
    old = data.draw(object_schemas(), label="old")
    new = data.draw(changed(old), label="new")
    Draft202012Validator.check_schema(new)
    found = breaking_changes(old, new)
    assume(not found)
    SEEN["pairs"] += 1
    SEEN["changed"] += new != old
    old_check = Draft202012Validator(old, format_checker=Draft202012Validator.FORMAT_CHECKER)
    new_check = Draft202012Validator(new, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for _ in range(VALUES_PER_PAIR):
        value = data.draw(valid(old), label="value")
        assert old_check.is_valid(value), ("the generator made a value the old schema refuses", value)
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in new_check.iter_errors(value)]
        assert not errors, ("not reported as breaking, yet refuses an old value", old, new, value, errors)


def test_the_property_test_saw_real_changes():
    """The property above is not vacuous: it met non-breaking changes (loosened constraints,
    added optional properties, annotations) and checked values against them."""
    if not SEEN["pairs"]:
        test_values_of_the_old_contract_pass_a_non_breaking_new_one()
    assert SEEN["changed"] >= 20, SEEN
