"""Evidence packs: a JSON document with a SHA-256 over its canonical content.

The document is ``{"format": FORMAT, "pack": {...}, "sha256": "<hex>"}``. ``pack`` holds the
content and the time and user that produced it; ``sha256`` is the SHA-256 of ``canonical(pack)``:
UTF-8 JSON with sorted keys, no insignificant white space and no floats that JSON cannot carry.
Anyone can check a pack later with any JSON library and ``sha256sum`` of that canonical form.
"""

import hashlib
import json
import math

FORMAT = "mfg.evidence_pack.v1"
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


class EvidenceError(ValueError):
    """A document that is not an evidence pack (says what is wrong)."""


def _check_finite(value, path="pack"):
    if isinstance(value, float) and not math.isfinite(value):
        raise EvidenceError(f"{path} is {value!r}: an evidence pack holds finite numbers only")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise EvidenceError(f"{path} has key {key!r}: keys must be text")
            _check_finite(item, f"{path}/{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_finite(item, f"{path}/{index}")


def canonical(pack):
    """The bytes the hash is computed over."""
    _check_finite(pack)
    return json.dumps(
        pack, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def digest(pack):
    return hashlib.sha256(canonical(pack)).hexdigest()


def seal(pack):
    """The document (bytes, indented for people; the hash does not depend on the layout) and its hash."""
    sha = digest(pack)
    document = {"format": FORMAT, "pack": pack, "sha256": sha}
    return json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False).encode("utf-8"), sha


def verify(data):
    """``(ok, stated, computed)`` for a document (bytes or text): ``ok`` when the hash it states
    is the hash of its pack. Raises EvidenceError when it is not an evidence pack at all."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise EvidenceError(
            f"the document is {len(data):,} bytes; an evidence pack is at most {MAX_DOCUMENT_BYTES:,}"
        )
    try:
        document = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvidenceError(f"the document is not UTF-8 JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise EvidenceError(f"the document is not an evidence pack (field 'format' must be {FORMAT!r})")
    pack, stated = document.get("pack"), document.get("sha256")
    if not isinstance(pack, dict):
        raise EvidenceError("field 'pack' must be a JSON object")
    if not isinstance(stated, str):
        raise EvidenceError("field 'sha256' must be the hexadecimal SHA-256 of the pack")
    computed = digest(pack)
    return computed == stated, stated, computed


def _refuse_constant(name):
    raise EvidenceError(f"the document holds {name}, which is not JSON")
