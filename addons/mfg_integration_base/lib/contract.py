"""Canonical contracts: JSON parsing, JSON Schema (Draft 2020-12) validation with errors
in plain words, and JSON pointers. Pure Python, no ORM."""

import json
from functools import lru_cache

import jsonschema
from jsonschema import Draft202012Validator

from ..exceptions import MfgValidationError

MAX_REPORTED_ERRORS = 10


MAX_DEPTH = 64  # nesting levels of objects and arrays a payload may have


def _refuse_constant(name):
    raise MfgValidationError(
        f"The payload holds {name}, which is no JSON number: send a finite number (or null)."
    )


def _finite_float(text):
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise MfgValidationError(
            f"The payload holds the number {shown}, which is too large to be a finite number."
        )
    return value


def _check_depth(data, limit=MAX_DEPTH):
    """Raise MfgValidationError when ``data`` nests objects/arrays deeper than ``limit``
    (iterative: a hostile payload cannot exhaust Python's stack here)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise MfgValidationError(
                f"The payload nests objects or arrays more than {limit} levels deep; flatten it."
            )
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, dict | list))


def parse_json(raw):
    """Parse ``raw`` (str or bytes) as a JSON object, strictly; raise MfgValidationError otherwise.

    Strict means: UTF-8 text, one JSON object, no ``NaN`` / ``Infinity`` (Python's json accepts
    them, and NaN passes every bound of a schema), only finite numbers (``1e309`` is refused),
    at most ``MAX_DEPTH`` levels of nesting (a payload nested thousands deep makes the parser
    recurse until it fails: it is refused, never an internal error).
    """
    if isinstance(raw, bytes | bytearray):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MfgValidationError(
                f"The payload is not UTF-8 text (invalid byte at position {exc.start})."
            ) from exc
    try:
        data = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except MfgValidationError:
        raise
    except RecursionError as exc:
        raise MfgValidationError(
            f"The payload nests objects or arrays more than {MAX_DEPTH} levels deep; flatten it."
        ) from exc
    except (TypeError, ValueError) as exc:
        raise MfgValidationError(f"The payload is not valid JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise MfgValidationError(
            f"The payload must be a JSON object, got {type(data).__name__.replace('dict', 'object')}."
        )
    _check_depth(data)
    try:
        # Valid JSON may still escape a lone surrogate (\ud800): no text column can hold it.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MfgValidationError(
            "The payload holds a lone UTF-16 surrogate escape (e.g. \\ud800), which is no character."
        ) from exc
    return data


def check_schema(schema_text):
    """Return the schema dict if ``schema_text`` is a valid Draft 2020-12 JSON Schema."""
    try:
        schema = json.loads(schema_text)
    except ValueError as exc:
        raise ValueError(f"The JSON Schema is not valid JSON: {exc}") from exc
    if not isinstance(schema, dict):
        raise ValueError("The JSON Schema must be a JSON object.")
    try:
        Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        raise ValueError(f"Invalid JSON Schema at {where}: {exc.message}") from exc
    return schema


@lru_cache(maxsize=256)
def _validator(schema_text):
    return Draft202012Validator(json.loads(schema_text), format_checker=Draft202012Validator.FORMAT_CHECKER)


def error_path(error):
    """The JSON pointer of the offending value, e.g. ``/components/2/quantity``."""
    return "/" + "/".join(str(p) for p in error.absolute_path) if error.absolute_path else "/"


def describe_error(error):
    """One schema error in plain words, naming the field and the value."""
    path = error_path(error)
    where = "the payload" if path == "/" else f"field '{path}'"
    if error.validator == "required":
        return f"{where}: {error.message}"
    if error.validator == "additionalProperties":
        return f"{where}: {error.message}"
    value = json.dumps(error.instance, default=str)
    if len(value) > 80:
        value = value[:77] + "..."
    return f"{where}: value {value} is not valid: {error.message}"


def validate(schema_text, data):
    """Validate ``data`` against ``schema_text``; raise MfgValidationError listing every error."""
    if not schema_text:
        return
    errors = sorted(_validator(schema_text).iter_errors(data), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    described = [{"path": error_path(e), "message": describe_error(e)} for e in errors]
    shown = described[:MAX_REPORTED_ERRORS]
    more = len(described) - len(shown)
    text = "The payload does not match its contract:\n- " + "\n- ".join(d["message"] for d in shown)
    if more:
        text += f"\n(and {more} more)"
    raise MfgValidationError(text, path=described[0]["path"], errors=described)


def resolve_pointer(data, pointer):
    """Value at JSON pointer ``pointer`` (RFC 6901) in ``data``, or None when absent."""
    if not pointer:
        return None
    if pointer == "/":
        pointer = ""
    if pointer and not pointer.startswith("/"):
        pointer = "/" + pointer
    node = data
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            if token not in node:
                return None
            node = node[token]
        elif isinstance(node, list):
            try:
                node = node[int(token)]
            except (ValueError, IndexError):
                return None
        else:
            return None
    return node


def split_pointers(text):
    """``"/lot, /product"`` → ``["/lot", "/product"]``: a key made of several payload values."""
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def valid_pointer(pointer):
    return all(p.startswith("/") for p in split_pointers(pointer))


def composite_key(data, pointers_text, separator="|"):
    """The values at one or more comma-separated JSON pointers, joined (None if one is missing).

    Scalars only: an object or a list is no key."""
    values = []
    for pointer in split_pointers(pointers_text):
        value = resolve_pointer(data, pointer)
        if value is None or isinstance(value, dict | list):
            return None
        values.append(str(value))
    return separator.join(values) if values else None
