"""Hypothesis strategies built from the contracts' JSON Schemas (Draft 2020-12 subset).

hypothesis-jsonschema would be the obvious tool, but its last release (0.23.1) calls internals
that Hypothesis 6.170 no longer has (``many.more``), and schemathesis needs a recent Hypothesis.
The contracts use a small part of JSON Schema (type, enum, properties, required,
additionalProperties, items, min/maxItems, uniqueItems, min/maxLength, minimum,
exclusiveMinimum, maximum, format date-time), which these strategies cover:

- ``valid(schema)``: values the schema accepts;
- ``mutated(schema)``: a valid value with one thing made wrong (a required field dropped, a value
  of the wrong type, out of range, an unknown field where none is allowed, a bad enum value or
  date) — what a plant system with a bug sends;
- ``hostile_strings``: strings that break careless code (NUL, bidi marks, SQL and HTML, very
  long). Lone UTF-16 surrogates (``"\\ud800"`` in JSON) are left out here: they make the ingest
  answer 500 today, which test_fuzz_contracts.py tests on its own (LONE_SURROGATES).
"""

import json
import math
from datetime import timezone

from hypothesis import strategies as st

HOSTILE = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u202e\u0647\u0644\u0627",
    "\U0001f4a5",
    "'; DROP TABLE mfg_message; --",
    "<script>alert(1)</script>",
    "../../../etc/passwd",
    "%s%s%n",
    "${jndi:ldap://x}",
    "NaN",
    "null",
    "0",
    "-1",
]

hostile_strings = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=30),
    st.text(st.characters(codec="utf-8"), min_size=200, max_size=300),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_strings,
)
any_json = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)

_dates = st.datetimes(timezones=st.just(timezone.utc)).map(lambda d: d.isoformat())


def _types(schema):
    kind = schema.get("type")
    if kind is None:
        return ["object"] if "properties" in schema else None
    return kind if isinstance(kind, list) else [kind]


def valid(schema):
    """A strategy of values ``schema`` accepts."""
    if schema is True or not schema:
        return any_json
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kinds = _types(schema)
    if kinds is None:
        return any_json
    return st.one_of([_valid_of_type(schema, kind) for kind in kinds])


def _valid_of_type(schema, kind):
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "string":
        if schema.get("format") == "date-time":
            return _dates
        low, high = schema.get("minLength", 0), schema.get("maxLength", 60)
        high = min(high, max(low, 60))
        return st.one_of(
            st.text(min_size=low, max_size=high),
            st.sampled_from([s for s in HOSTILE if low <= len(s) <= high] or ["x" * max(low, 1)]),
        ).filter(lambda s: low <= len(s) <= schema.get("maxLength", math.inf))
    if kind in ("number", "integer"):
        low = schema.get("minimum")
        xlow = schema.get("exclusiveMinimum")
        high = schema.get("maximum")
        if kind == "integer":
            if xlow is not None:
                low = max(low if low is not None else -math.inf, math.floor(xlow) + 1)
            return st.integers(
                min_value=None if low is None else int(low), max_value=None if high is None else int(high)
            )
        floats = st.floats(
            min_value=xlow if xlow is not None else low,
            max_value=high,
            exclude_min=xlow is not None,
            allow_nan=False,
            allow_infinity=False,
        )
        ints = st.integers(
            min_value=None
            if (low is None and xlow is None)
            else (math.floor(xlow) + 1 if xlow is not None else math.ceil(low)),
            max_value=None if high is None else math.floor(high),
        )
        return st.one_of(floats, ints)
    if kind == "array":
        items = valid(schema.get("items", True))
        low, high = schema.get("minItems", 0), schema.get("maxItems", 4)
        high = min(high, low + 4)
        unique = {"unique_by": lambda v: json.dumps(v, sort_keys=True)} if schema.get("uniqueItems") else {}
        return st.lists(items, min_size=low, max_size=high, **unique)
    if kind == "object":
        return _valid_object(schema)
    return any_json


def _valid_object(schema):
    props = schema.get("properties", {})
    required = [k for k in schema.get("required", []) if k in props]
    optional = [k for k in props if k not in required]
    extra = schema.get("additionalProperties", True)

    @st.composite
    def build(draw):
        out = {k: draw(valid(props[k])) for k in required}
        for k in optional:
            if draw(st.booleans()):
                out[k] = draw(valid(props[k]))
        if extra is not False and draw(st.integers(0, 4)) == 0:
            name = draw(st.text(min_size=1, max_size=12).filter(lambda n: n not in props))
            out[name] = draw(valid(extra) if isinstance(extra, dict) else any_json)
        return out

    return build()


@st.composite
def mutated(draw, schema):
    """A valid value of ``schema`` (an object) with one thing made wrong."""
    value = draw(_valid_object(schema))
    props = schema.get("properties", {})
    kinds = ["wrong_type", "drop_required", "not_an_object_inside"]
    if schema.get("additionalProperties") is False:
        kinds.append("unknown_field")
    kind = draw(st.sampled_from(kinds))
    if kind == "drop_required" and schema.get("required"):
        value.pop(draw(st.sampled_from(schema["required"])), None)
    elif kind == "unknown_field":
        value[draw(st.text(min_size=1, max_size=12).filter(lambda n: n not in props))] = draw(any_json)
    elif props:
        name = draw(st.sampled_from(sorted(props)))
        prop = props[name] if isinstance(props[name], dict) else {}
        value[name] = draw(_wrong_value(prop))
    return value


def _wrong_value(prop):
    kinds = _types(prop) or []
    choices = [any_json]
    if "enum" in prop:
        choices.append(hostile_strings.filter(lambda s: s not in prop["enum"]))
    if prop.get("format") == "date-time":
        choices.append(st.sampled_from(["yesterday", "2024-13-45T25:61:00Z", "2024-01-01", "", "\x00"]))
    if "string" in kinds and "maxLength" in prop:
        choices.append(st.just("x" * (prop["maxLength"] + 1)))
    if "string" in kinds and prop.get("minLength"):
        choices.append(st.just(""))
    if {"number", "integer"} & set(kinds):
        bound = prop.get("exclusiveMinimum", prop.get("minimum"))
        if bound is not None:
            choices.append(st.sampled_from([bound - 1, -1e300, bound]))
        choices.append(st.sampled_from(["12", "1e3", True, None, [], {}]))
    return st.one_of(choices)
