"""Contract governance: which changes of a JSON Schema break the systems that use the contract.

A change is breaking when a message valid before may be refused or misread after it:
- a property removed (or renamed: removed + added),
- a required field removed from ``required`` (consumers rely on it) or renamed,
- a new required field (senders do not send it yet),
- a property's type changed to one that does not include the old one (integer → number is fine),
- an enum value removed, a list of values or a constant imposed,
- a constraint tightened: ``maxLength``/``maxItems``/``maxProperties`` lowered or added,
  ``minLength``/``minItems``/``minProperties`` raised, ``minimum``/``exclusiveMinimum`` raised,
  ``maximum``/``exclusiveMaximum`` lowered (or any of them added), ``multipleOf`` added or changed
  to a value the old one is not a multiple of, a ``pattern`` or ``format`` added or changed,
  ``uniqueItems`` imposed, ``additionalProperties: false`` (or a schema for them) imposed, the
  items of an array constrained,
- any other validation keyword (``oneOf``, ``not``, ``if``, ``$ref``, ``patternProperties``...)
  added or changed: it cannot be compared, so it counts as breaking.
Adding optional properties is not breaking (a sender is assumed not to send a property no
version of the contract named). Pure Python, no ORM."""

from fractions import Fraction

# Keywords that only describe: their changes never refuse a message.
ANNOTATIONS = {
    "$id",
    "$schema",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "contentMediaType",
    "contentEncoding",
}
# Keywords compared by the rules below.
COMPARED = {
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "uniqueItems",
}
# Upper and lower size limits: (keyword, what it limits).
MAX_SIZES = (
    ("maxLength", "length"),
    ("maxItems", "number of items"),
    ("maxProperties", "number of properties"),
)
MIN_SIZES = (
    ("minLength", "length"),
    ("minItems", "number of items"),
    ("minProperties", "number of properties"),
)


def _types(schema):
    kind = schema.get("type")
    if kind is None:
        return None
    return {kind} if isinstance(kind, str) else set(kind)


def _type_covers(new, old):
    if new is None:
        return True  # no type constraint any more: accepts everything
    if old is None:
        return False
    covered = set(new)
    if "number" in covered:
        covered.add("integer")
    return old <= covered


def _where(path):
    return path or "(root)"


def _number(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bound(schema, inclusive_key, exclusive_key, pick):
    """The strictest bound of ``schema`` as (value, exclusive), or None. ``pick`` is max for lower
    bounds, min for upper ones. Draft 4's boolean ``exclusiveMinimum``/``Maximum`` is understood."""
    bounds = []
    value, exclusive = schema.get(inclusive_key), schema.get(exclusive_key)
    if _number(value):
        bounds.append((value, exclusive is True))
    if _number(exclusive):
        bounds.append((exclusive, True))
    if not bounds:
        return None
    best = pick(v for v, _x in bounds)
    return best, any(x for v, x in bounds if v == best)


def _tighter(new, old, lower):
    """Whether bound ``new`` refuses a value that bound ``old`` accepted."""
    if new is None:
        return False
    if old is None:
        return True
    (new_value, new_excl), (old_value, old_excl) = new, old
    if new_value != old_value:
        return new_value > old_value if lower else new_value < old_value
    return new_excl and not old_excl


def _show(bound):
    value, exclusive = bound
    return f"{'exclusive ' if exclusive else ''}{value!r}"


def _multiple_breaks(old, new):
    if not _number(new):
        return False
    if not _number(old):
        return True
    try:
        return (Fraction(str(old)) / Fraction(str(new))).denominator != 1
    except (ValueError, ZeroDivisionError):
        return True


def _constraints(old, new, path):
    """Tightened constraints of one schema node (not its sub-schemas)."""
    found = []
    where = _where(path)
    for key, what in MAX_SIZES:
        if _number(new.get(key)) and (not _number(old.get(key)) or new[key] < old[key]):
            before = old.get(key, "none")
            found.append((where, f"{key} lowered from {before} to {new[key]} (maximum {what})"))
    for key, what in MIN_SIZES:
        if _number(new.get(key)) and new[key] > (old.get(key) if _number(old.get(key)) else 0):
            found.append((where, f"{key} raised from {old.get(key, 0)} to {new[key]} (minimum {what})"))
    for lower, inclusive_key, exclusive_key, pick in (
        (True, "minimum", "exclusiveMinimum", max),
        (False, "maximum", "exclusiveMaximum", min),
    ):
        old_bound = _bound(old, inclusive_key, exclusive_key, pick)
        new_bound = _bound(new, inclusive_key, exclusive_key, pick)
        if _tighter(new_bound, old_bound, lower):
            before = _show(old_bound) if old_bound else "none"
            word = "raised" if lower else "lowered"
            found.append((where, f"{inclusive_key} {word} from {before} to {_show(new_bound)}"))
    if "multipleOf" in new and _multiple_breaks(old.get("multipleOf"), new["multipleOf"]):
        found.append(
            (where, f"multipleOf changed from {old.get('multipleOf', 'none')} to {new['multipleOf']}")
        )
    for key in ("pattern", "format"):
        if key in new and new[key] != old.get(key):
            found.append((where, f"{key} {'added' if key not in old else 'changed'}: {new[key]!r}"))
    if new.get("uniqueItems") is True and old.get("uniqueItems") is not True:
        found.append((where, "items must now be unique"))
    if "const" in new and ("const" not in old or old["const"] != new["const"]):
        found.append((where, f"restricted to the constant {new['const']!r}"))
    for key in sorted(set(new) - ANNOTATIONS - COMPARED):
        if key.startswith("x-"):
            continue  # vendor extensions: documentation only
        if key not in old or old[key] != new[key]:
            found.append(
                (where, f"{key} {'added' if key not in old else 'changed'} (cannot be compared: breaking)")
            )
    return found


def _as_schema(value):
    """A sub-schema as a dict: ``true``/absent accepts everything ({}), ``false`` nothing (None)."""
    if value is None or value is True:
        return {}
    if value is False:
        return None
    return value if isinstance(value, dict) else {}


def _type_and_values(old, new, path):
    """Type narrowed, enum values removed or a list of values imposed."""
    found = []
    old_types, new_types = _types(old), _types(new)
    if not _type_covers(new_types, old_types):
        before = "/".join(sorted(old_types)) if old_types else "any"
        found.append((_where(path), f"type changed from {before} to {'/'.join(sorted(new_types or []))}"))
    if "enum" in old and "enum" in new:
        removed = [v for v in old["enum"] if v not in new["enum"]]
        if removed:
            found.append((_where(path), f"allowed value(s) {', '.join(map(repr, removed))} removed"))
    elif "enum" in new and not ("const" in old and old["const"] in new["enum"]):
        found.append((_where(path), "restricted to a list of values"))
    return found


def _object_changes(old, new, path):
    """Properties removed, required fields changed, additional properties restricted; the
    properties both versions have are compared in depth."""
    found = []
    old_props = old.get("properties") or {}
    new_props = new.get("properties") or {}
    old_req, new_req = set(old.get("required") or []), set(new.get("required") or [])
    prefix = f"{path}/" if path else ""
    for name in old_props:
        if name not in new_props:
            what = "required field" if name in old_req else "property"
            found.append((prefix + name, f"{what} removed (or renamed)"))
    for name in sorted(old_req - new_req):
        if name in new_props:
            found.append((prefix + name, "no longer required"))
        elif name not in old_props:
            found.append((prefix + name, "required field removed (or renamed)"))
    for name in sorted(new_req - old_req):
        found.append((prefix + name, "new required field"))
    for name, old_prop in old_props.items():
        if name in new_props:
            found.extend(breaking_changes(old_prop, new_props[name], prefix + name))
    old_extra = _as_schema(old.get("additionalProperties"))
    new_extra = _as_schema(new.get("additionalProperties"))
    if new_extra is None and old_extra is not None:
        found.append((_where(path), "additional properties refused (additionalProperties: false)"))
    elif isinstance(new.get("additionalProperties"), dict) and old_extra is not None:
        found.extend(breaking_changes(old_extra, new_extra, f"{prefix}(additional properties)"))
    return found


def breaking_changes(old, new, path=""):
    """List of (field path, reason) of the changes from schema ``old`` to schema ``new`` that break
    the contract's users. Both are dicts (parsed JSON Schemas) or booleans."""
    old, new = _as_schema(old), _as_schema(new)
    if old is None:
        return []  # nothing was valid before
    if new is None:
        return [(_where(path), "no value is allowed any more")]
    found = _type_and_values(old, new, path)
    found.extend(_constraints(old, new, path))
    found.extend(_object_changes(old, new, path))
    if "items" in new:
        items_path = f"{path}/[]" if path else "[]"
        found.extend(breaking_changes(old.get("items"), new["items"], items_path))
    return found
