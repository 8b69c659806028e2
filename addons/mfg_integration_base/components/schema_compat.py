"""Contract governance: which changes of a JSON Schema break the systems that use the contract.

A change is breaking when a message valid before may be refused or misread after it:
- a property removed (or renamed: removed + added),
- a required field removed from ``required`` (consumers rely on it) or renamed,
- a new required field (senders do not send it yet),
- a property's type changed to one that does not include the old one (integer → number is fine),
- an enum value removed.
Adding optional properties is not breaking. Pure Python, no ORM."""


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


def breaking_changes(old, new, path=""):
    """List of (field path, reason) of the changes from schema ``old`` to schema ``new`` that break
    the contract's users. Both are dicts (parsed JSON Schemas)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return []
    found = []
    old_types, new_types = _types(old), _types(new)
    if old_types is not None and not _type_covers(new_types, old_types):
        found.append(
            (
                _where(path),
                f"type changed from {'/'.join(sorted(old_types))} to {'/'.join(sorted(new_types or []))}",
            )
        )
    if "enum" in old and "enum" in new:
        removed = [v for v in old["enum"] if v not in new["enum"]]
        if removed:
            found.append((_where(path), f"allowed value(s) {', '.join(map(repr, removed))} removed"))
    elif "enum" in new and "enum" not in old:
        found.append((_where(path), "restricted to a list of values"))
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
    if isinstance(old.get("items"), dict) and isinstance(new.get("items"), dict):
        found.extend(breaking_changes(old["items"], new["items"], f"{prefix}[]" if path else "[]"))
    return found
