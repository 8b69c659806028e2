"""Error signatures: failures that have the same cause get the same signature, so that a backlog
of thousands of failed messages reads as a handful of incidents.

Deterministic and explainable, no learning:
- a missing code mapping keeps what identifies the fix: ``mapping|<kind>|<code>`` (one mapping
  fixes every message of the group);
- any other error keeps its class and its text with the variable parts masked: quoted values,
  numbers (ids, quantities, dates, references such as WH/MO/00042), hexadecimal ids and UUIDs.
  "Order WO-17 is closed" and "Order WO-4711 is closed" are one incident.
"""

import re

PREFIXES = (re.compile(r"^Gave up after \d+ attempts\. Last error: "),)
MASKS = (
    (re.compile(r"'[^']*'|\"[^\"]*\"|«[^»]*»|“[^”]*”"), "'…'"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "#"),
    (re.compile(r"\b[0-9a-f]{16,}\b", re.I), "#"),
    # a word with a digit (WO-17, WH/MO/00042, 12.5, plant1-mes, erp.item_master.v1); a '.' or ':' belongs
    # to it only inside it, so "order 12: closed" keeps its colon
    (re.compile(r"(?:[\w/#-]|[.:](?=[\w/#-]))*\d(?:[\w/#-]|[.:](?=[\w/#-]))*"), "#"),
    (re.compile(r"\s+"), " "),
)
MAX_LENGTH = 300


def error_signature(error_class, text, kind=None, code=None):
    """The signature of a failure (see the module's docstring)."""
    if error_class == "mapping" and kind:
        return f"mapping|{kind}|{code or ''}"
    text = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    for prefix in PREFIXES:
        text = prefix.sub("", text)
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return f"{error_class or 'internal'}|{text.strip()[:MAX_LENGTH]}"


def describe(signature):
    """(kind of error, readable text, mapping kind, mapping code) of a signature."""
    error_class, _, rest = (signature or "").partition("|")
    if error_class == "mapping":
        kind, _, code = rest.partition("|")
        return error_class, f"Unknown {kind} code '{code}'", kind, code
    return error_class, rest, None, None
