"""Strict checks of a fact posted by a plant system: bytes → a JSON object, or ``Invalid`` naming
the field and the value (with the HTTP status to answer: 400 malformed, 413 too large, 422 not a
fact)."""

import json
import math
import re

CONTRACT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
RESERVED = {"odoo", "files", "edge", "bridge"}  # topic levels of the agent and the bridge
MAX_MESSAGE_ID = 128


class Invalid(ValueError):
    def __init__(self, status, field, value, message):
        self.status, self.field, self.value = status, field, value
        super().__init__(message)

    def body(self):
        value = (
            self.value if isinstance(self.value, str | int | float | bool | type(None)) else repr(self.value)
        )
        if isinstance(value, str) and len(value) > 200:
            value = value[:200] + "…"
        return {"error": str(self), "field": self.field, "value": value}


def check_contract(code):
    if not CONTRACT.fullmatch(code or "") or code in RESERVED:
        raise Invalid(
            404 if code in RESERVED else 422,
            "contract",
            code,
            f"contract {code!r} is not a contract code (letters, digits, '.', '_', '-'; not {sorted(RESERVED)})",
        )
    return code


def _depth(text, limit):
    """Raise when arrays/objects nest deeper than ``limit`` (checked before parsing: a deep body
    must not reach the parser's recursion)."""
    depth = 0
    in_string = escaped = False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                raise Invalid(422, "body", f"depth {depth} at character {i}",
                              f"body: nesting deeper than {limit} (max_depth) at character {i}")  # fmt: skip
        elif ch in "]}":
            depth -= 1


def _no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise Invalid(400, key, value, f"{key}: the key appears twice in one object")
        seen[key] = value
    return seen


def _constant(name):
    raise Invalid(400, "body", name, f"body: {name} is not a JSON number")


def _finite(value, path):
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid(422, path, str(value), f"{path}: {value} is not a finite number")
    if isinstance(value, dict):
        for key, item in value.items():
            _finite(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _finite(item, f"{path}[{i}]")


def parse_fact(raw, max_bytes, max_depth):
    """The posted bytes as a dict with a ``message_id``."""
    if len(raw) > max_bytes:
        raise Invalid(
            413, "body", len(raw), f"body: {len(raw)} bytes, more than {max_bytes} (max_body_bytes)"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Invalid(
            400, "body", raw[e.start : e.start + 8].hex(), f"body: not UTF-8 at byte {e.start}"
        ) from None
    _depth(text, max_depth)
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_constant)
    except json.JSONDecodeError as e:
        raise Invalid(400, "body", text[max(0, e.pos - 20) : e.pos + 20],
                      f"body: not JSON ({e.msg} at line {e.lineno} column {e.colno})") from None  # fmt: skip
    if not isinstance(value, dict):
        raise Invalid(
            422, "body", type(value).__name__, f"body: a JSON object is expected, not {type(value).__name__}"
        )
    _finite(value, "")
    message_id = value.get("message_id")
    if "message_id" not in value:
        raise Invalid(422, "message_id", None, "message_id: required (the sender's unique id of this fact)")
    if not isinstance(message_id, str) or not message_id.strip() or len(message_id) > MAX_MESSAGE_ID:
        raise Invalid(422, "message_id", message_id,
                      f"message_id: {message_id!r} is not a non-empty string of at most {MAX_MESSAGE_ID} characters")  # fmt: skip
    return value
