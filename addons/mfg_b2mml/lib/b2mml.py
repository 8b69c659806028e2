"""B2MML (ISA-95) documents read into canonical facts (no ORM).

Version tolerance: elements are matched by local name within any B2MML namespace
(``http://www.wbf.org/xml/B2MML-V0401``, ``http://www.mesa.org/xml/B2MML-V0600``,
``http://www.mesa.org/xml/B2MML`` …: any namespace URI containing "B2MML") or none; names that
moved between versions are all accepted (ProductionPerformance / OperationsPerformance,
ProductionResponse / OperationsResponse, ProductionRequestID / OperationsRequestID,
MaterialActual + MaterialUse / MaterialConsumedActual / MaterialProducedActual). Elements of
other namespaces (vendor extensions) and elements we do not use are skipped, never fatal: the
document is kept as received on its message.

``decode(root, mapping, received_at)`` → ``(document key, [(contract code, payload)])``.
Errors (``MfgValidationError``: the document cannot be read; ``MfgPermanentError``: the
backend's B2MML mapping does not say what a value means) name the XPath, the element and the
value.
"""

import math
import re
from decimal import Decimal, InvalidOperation

from odoo.addons.mfg_integration_base.exceptions import MfgPermanentError, MfgValidationError

PERFORMANCE_ROOTS = {
    f"{verb}{noun}"
    for verb in ("Sync", "Process", "Show")
    for noun in ("ProductionPerformance", "OperationsPerformance")
} | {"ProductionPerformance", "OperationsPerformance"}
MATERIAL_ROOTS = {
    f"{verb}{noun}"
    for verb in ("Sync", "Process", "Show")
    for noun in ("MaterialInformation", "MaterialLot", "MaterialDefinition")
} | {"MaterialInformation"}
ROOTS = PERFORMANCE_ROOTS | MATERIAL_ROOTS

# What a backend's B2MML mapping holds when nobody changed it (documented in readme/CONFIGURE.md).
DEFAULT_MAPPING = {
    "material_use": {
        "Consumed": "consumption",
        "Material Consumed": "consumption",
        "Produced": "completion",
        "Material Produced": "completion",
        "Yield Produced": "completion",
        "Scrapped": "scrap",
        "Scrap": "scrap",
        "Consumable": "ignore",
        "By-product Produced": "ignore",
        "Co-product Produced": "ignore",
    },
    "properties": {
        "final": ["LastPortion", "FinalConfirmation"],
        "scrap_reason": ["ScrapReason", "ReasonCode"],
        "hold_reason": ["StatusReason", "HoldReason"],
    },
    "lot_status": {
        "Blocked": "hold",
        "Quarantine": "hold",
        "Hold": "hold",
        "On Hold": "hold",
        "Rejected": "hold",
        "Released": "release",
        "Available": "release",
        "Approved": "release",
    },
    "final_states": ["Completed", "Closed", "Finished"],
    "segment_status": True,
    "item_policy": "match",
    "max_document_bytes": 10 * 1024 * 1024,
}
FACT_KINDS = ("consumption", "completion", "scrap", "ignore")
LOT_ACTIONS = ("hold", "release", "ignore")
CONTRACTS = {
    "consumption": "mes.material_consumption",
    "completion": "mes.production_completion",
    "scrap": "mes.scrap",
    "hold": "qms.lot_hold",
    "release": "qms.lot_release",
    "item": "mes.material_definition",
    "status": "mes.operation_status",
}
TRUE_TEXTS = {"true", "1", "yes", "y", "x"}
FALSE_TEXTS = {"false", "0", "no", "n", ""}


def merged_mapping(custom):
    """The default mapping updated by a backend's own (dicts merged one level deep)."""
    mapping = {
        key: (dict(value) if isinstance(value, dict) else value) for key, value in DEFAULT_MAPPING.items()
    }
    for key, value in (custom or {}).items():
        if isinstance(value, dict) and isinstance(mapping.get(key), dict):
            mapping[key].update(value)
        else:
            mapping[key] = value
    return mapping


def mapping_problem(custom):
    """Why a backend's B2MML mapping (parsed JSON) cannot be used, or None."""
    if not isinstance(custom, dict):
        return "The B2MML mapping must be a JSON object."
    unknown = set(custom) - set(DEFAULT_MAPPING)
    if unknown:
        return f"Unknown key(s) {sorted(unknown)} in the B2MML mapping; known: {sorted(DEFAULT_MAPPING)}."
    mapping = merged_mapping(custom)
    for use, kind in mapping["material_use"].items():
        if kind not in FACT_KINDS:
            return f"material_use {use!r} → {kind!r}: use one of {list(FACT_KINDS)}."
    for status, action in mapping["lot_status"].items():
        if action not in LOT_ACTIONS:
            return f"lot_status {status!r} → {action!r}: use one of {list(LOT_ACTIONS)}."
    if not isinstance(mapping["segment_status"], bool):
        return f"segment_status {mapping['segment_status']!r}: true or false."
    if mapping["item_policy"] not in ("match", "create"):
        return f"item_policy {mapping['item_policy']!r}: use 'match' or 'create'."
    size = mapping["max_document_bytes"]
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        return f"max_document_bytes {size!r}: a positive number of bytes."
    for key, ids in mapping["properties"].items():
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return f"properties {key!r}: a list of property IDs."
    return None


# ---------------------------------------------------------------------- navigation
def local(el):
    return el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else None


def is_b2mml(el):
    """An element of a B2MML namespace, or of none."""
    if not isinstance(el.tag, str):
        return False
    if not el.tag.startswith("{"):
        return True
    return "b2mml" in el.tag[1 : el.tag.index("}")].lower()


def kids(el, *names):
    """The B2MML children of ``el`` named one of ``names`` (local names), in document order."""
    return [c for c in el if is_b2mml(c) and local(c) in names]


def kid(el, *names):
    found = kids(el, *names)
    return found[0] if found else None


def text(el, *names):
    """The stripped text of the first child named one of ``names``, or None."""
    child = kid(el, *names) if names else el
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


def xpath(el):
    """A readable XPath of ``el`` by local names, positions where siblings share the name."""
    parts = []
    while el is not None:
        parent = el.getparent()
        name = local(el)
        if parent is not None:
            same = [c for c in parent if local(c) == name]
            if len(same) > 1:
                name = f"{name}[{same.index(el) + 1}]"
        parts.append(name)
        el = parent
    return "/" + "/".join(reversed(parts))


def invalid(el, why, value=None):
    shown = "" if value is None else f" (value {value!r})"
    return MfgValidationError(f"{xpath(el)}: element <{local(el)}>{shown}: {why}", path=xpath(el))


# ---------------------------------------------------------------------- values
def quantity(actual):
    """``(Decimal, unit)`` of the first Quantity of ``actual`` that has a QuantityString."""
    quantities = kids(actual, "Quantity")
    for qty in quantities:
        qstring = kid(qty, "QuantityString")
        raw = text(qstring) if qstring is not None else (qty.text or "").strip() or None
        if raw is None:
            continue
        where = qstring if qstring is not None else qty
        data_type = text(qty, "DataType")
        if data_type and data_type.lower() not in (
            "decimal",
            "double",
            "float",
            "integer",
            "int",
            "long",
            "number",
            "amount",
            "quantity",
            "measure",
        ):
            raise invalid(where, f"a quantity of DataType {data_type!r} is no number", raw)
        try:
            value = Decimal(raw.replace(" ", ""))
        except InvalidOperation:
            raise invalid(where, "not a number", raw) from None
        if not value.is_finite() or value <= 0:
            raise invalid(where, "the quantity must be a finite number above 0", raw)
        unit = text(qty, "UnitOfMeasure") or (qstring is not None and qstring.get("unitCode")) or None
        if not unit:
            raise invalid(qty, "the quantity has no UnitOfMeasure", raw)
        return value, unit
    raise invalid(actual if not quantities else quantities[0], "no Quantity/QuantityString given")


def number(value):
    """A Decimal as the JSON number the contracts take (int when whole)."""
    if value == value.to_integral_value():
        return int(value)
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(value)
    return result


def properties(el, names):
    """``{property ID: (value text, element)}`` of ``el``'s property children (ID/Value lists),
    nested ones included; a Value's ValueString, else its text."""
    found = {}
    for prop in kids(el, *names):
        pid = text(prop, "ID")
        value_el = kid(prop, "Value")
        if value_el is not None:
            value = text(value_el, "ValueString") or (value_el.text or "").strip() or None
        else:
            value = None
        if pid:
            found.setdefault(pid, (value, prop))
        for pid2, item in properties(prop, names).items():
            found.setdefault(pid2, item)
    return found


def mapped_property(props, mapping, key):
    for pid in mapping["properties"].get(key, []):
        if pid in props:
            return props[pid]
    return None, None


def boolean(value, el):
    low = (value or "").strip().lower()
    if low in TRUE_TEXTS:
        return True
    if low in FALSE_TEXTS:
        return False
    raise invalid(el, "expected true or false", value)


DATE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$")


def rfc3339(value, el):
    """An xsd:dateTime as RFC 3339: seconds added when missing, and a time without an offset is
    taken as UTC (B2MML allows it; RFC 3339 does not)."""
    if not value:
        return None
    match = DATE_RE.match(value)
    if not match:
        raise invalid(el, "not a date-time (YYYY-MM-DDThh:mm:ss with an offset or Z)", value)
    minutes, seconds, offset = match.groups()
    return f"{minutes}{seconds or ':00'}{offset or 'Z'}"


# ---------------------------------------------------------------------- documents
def application_area(root):
    area = kid(root, "ApplicationArea")
    if area is None:
        return None, None
    created = kid(area, "CreationDateTime")
    return text(area, "BODID"), rfc3339(text(created), created) if created is not None else None


def process_document(root):
    """What an acknowledgement of ``root`` needs when it is a ``Process<Noun>`` document of a
    B2MML namespace (the verb that asks for one), else None: ``{"document", "noun",
    "namespace", "bod_id", "created_at", "noun_ids"}`` — dates as written, never checked (a
    document rejected for its date is acknowledged all the same)."""
    name = local(root)
    if not name or not is_b2mml(root) or not name.startswith("Process") or len(name) <= len("Process"):
        return None
    noun = name[len("Process") :]
    namespace = root.tag[1 : root.tag.index("}")] if root.tag.startswith("{") else ""
    area = kid(root, "ApplicationArea")
    data_area = kid(root, "DataArea")
    return {
        "document": name,
        "noun": noun,
        "namespace": namespace,
        "bod_id": text(area, "BODID") if area is not None else None,
        "created_at": text(area, "CreationDateTime") if area is not None else None,
        "noun_ids": [text(n, "ID") or "" for n in kids(data_area, noun)] if data_area is not None else [],
    }


def nouns(root, *names):
    """The nouns of a document: under DataArea (a verb document) or the root itself."""
    if local(root) in names:
        return [root]
    area = kid(root, "DataArea")
    return kids(area, *names) if area is not None else []


def decode(root, custom_mapping, received_at):
    """``(document key, facts)`` of a parsed B2MML document (see the module docstring)."""
    name = local(root)
    if not is_b2mml(root) or name not in ROOTS:
        raise invalid(
            root,
            "not a B2MML document this hub reads; expected one of "
            + ", ".join(sorted(ROOTS))
            + " in a B2MML namespace",
            root.tag,
        )
    mapping = merged_mapping(custom_mapping)
    bod_id, created = application_area(root)
    sent_at = created or received_at.strftime("%Y-%m-%dT%H:%M:%SZ")  # received_at: naive UTC
    if name in PERFORMANCE_ROOTS:
        facts, doc_id = performance_facts(root, mapping, sent_at)
    else:
        facts, doc_id = material_facts(root, mapping, sent_at)
    return bod_id or doc_id, facts


def performance_facts(root, mapping, sent_at):
    facts = []
    noun_list = nouns(root, "ProductionPerformance", "OperationsPerformance")
    if not noun_list:
        raise invalid(root, "no ProductionPerformance / OperationsPerformance in the document")
    doc_ids = []
    for noun in noun_list:
        published = kid(noun, "PublishedDate")
        noun_sent = rfc3339(text(published), published) if published is not None else None
        doc_ids.append(text(noun, "ID") or "")
        for response in kids(noun, "ProductionResponse", "OperationsResponse"):
            request = kid(response, "ProductionRequestID", "OperationsRequestID")
            work_order = text(request) if request is not None else None
            if not work_order:
                raise invalid(
                    response, "no ProductionRequestID / OperationsRequestID: which work order is it?"
                )
            response_final = (text(response, "ResponseState") or "") in mapping["final_states"]
            for segment in iter_segments(response):
                segment_final = (
                    response_final or (text(segment, "SegmentState") or "") in mapping["final_states"]
                )
                if mapping["segment_status"]:
                    facts.extend(segment_status_facts(segment, work_order, noun_sent or sent_at))
                for actual, use in material_actuals(segment):
                    fact = actual_fact(actual, use, mapping, work_order, segment_final, noun_sent or sent_at)
                    if fact:
                        facts.append(fact)
    return facts, None  # a performance's ID is reused by MES for later reports: never a key


def iter_segments(parent):
    for segment in kids(parent, "SegmentResponse"):
        yield segment
        yield from iter_segments(segment)


def segment_status_facts(segment, work_order, sent_at):
    """The operation status facts of a SegmentResponse that names its equipment and its times:
    ``EquipmentActual/EquipmentID`` is the plant's work center code (resolved by the backend's
    code mappings of kind *workcenter* when the fact is applied: an unknown one fails as a
    missing mapping), ``ActualStartTime`` → *started*, ``ActualEndTime`` → *finished*, at the
    plant's times. Before the segment's material actuals (the operation is timed before its
    completion closes the order). Nothing without an EquipmentID or a start time."""
    equipment = None
    for actual in kids(segment, "EquipmentActual"):
        equipment = text(actual, "EquipmentID")
        if equipment:
            break
    start_el = kid(segment, "ActualStartTime")
    if not equipment or start_el is None or not text(start_el):
        return []
    base = {"sent_at": sent_at, "work_order": work_order, "operation": equipment}
    facts = [(CONTRACTS["status"], {**base, "status": "started", "at": rfc3339(text(start_el), start_el)})]
    end_el = kid(segment, "ActualEndTime")
    if end_el is not None and text(end_el):
        facts.append(
            (CONTRACTS["status"], {**base, "status": "finished", "at": rfc3339(text(end_el), end_el)})
        )
    return facts


def material_actuals(segment):
    """``(element, MaterialUse or None)`` in document order: MaterialActual (V0500+) and the
    V0401 elements whose name says the use."""
    implied = {"MaterialConsumedActual": "Consumed", "MaterialProducedActual": "Produced"}
    for el in kids(segment, "MaterialActual", *implied):
        yield el, implied.get(local(el))


def actual_fact(actual, implied_use, mapping, work_order, final, sent_at):
    use_el = kid(actual, "MaterialUse")
    use = implied_use or (text(use_el) if use_el is not None else None)
    if not use:
        raise invalid(actual, "no MaterialUse: is it consumed, produced or scrapped?")
    kind = mapping["material_use"].get(use)
    if kind is None:
        raise MfgPermanentError(
            f"{xpath(use_el if use_el is not None else actual)}: element <MaterialUse> (value {use!r}) "
            f"is not in this backend's B2MML mapping (material_use); known: "
            f"{sorted(mapping['material_use'])}. Add it to the mapping, then Retry the document.",
            path=xpath(use_el if use_el is not None else actual),
        )
    if kind == "ignore":
        return None
    material_el = kid(actual, "MaterialDefinitionID")
    material = text(material_el) if material_el is not None else None
    if not material:
        raise invalid(actual, "no MaterialDefinitionID: which material is it?")
    qty, unit = quantity(actual)
    lot = text(actual, "MaterialLotID")
    props = properties(
        actual, ("MaterialActualProperty", "MaterialProducedActualProperty", "MaterialConsumedActualProperty")
    )
    base = {"sent_at": sent_at, "work_order": work_order}
    if kind == "consumption":
        line = {"component": material, "quantity": number(qty), "uom": unit}
        if lot:
            line["lot"] = lot
        return CONTRACTS[kind], {**base, "lines": [line]}
    if kind == "scrap":
        payload = {**base, "product": material, "quantity": number(qty), "uom": unit}
        if lot:
            payload["lot"] = lot
        reason, _el = mapped_property(props, mapping, "scrap_reason")
        if reason:
            payload["reason"] = reason
        return CONTRACTS[kind], payload
    value, el = mapped_property(props, mapping, "final")
    payload = {
        **base,
        "quantity": number(qty),
        "uom": unit,
        "final": boolean(value, el) if el is not None else final,
    }
    if lot:
        payload["lot"] = lot
    return CONTRACTS[kind], payload


def material_facts(root, mapping, sent_at):
    facts = []
    info_nouns = nouns(root, "MaterialInformation")
    lots = [lot for info in info_nouns for lot in kids(info, "MaterialLot")]
    definitions = [d for info in info_nouns for d in kids(info, "MaterialDefinition")]
    lots += nouns(root, "MaterialLot")
    definitions += nouns(root, "MaterialDefinition")
    if not lots and not definitions:
        raise invalid(root, "no MaterialLot or MaterialDefinition in the document")
    for definition in definitions:
        facts.append(definition_fact(definition, mapping, sent_at))
    for lot in lots:
        fact = lot_fact(lot, mapping, sent_at)
        if fact:
            facts.append(fact)
    return facts, None  # MaterialInformation IDs are reused: the BODID or the bytes name it


def definition_fact(definition, mapping, sent_at):
    code_el = kid(definition, "ID")
    code = text(code_el) if code_el is not None else None
    if not code:
        raise invalid(definition, "no ID: which material is it?")
    payload = {"sent_at": sent_at, "code": code, "policy": mapping["item_policy"]}
    description = text(definition, "Description")
    if description:
        payload["name"] = description[:256]
    props = properties(definition, ("MaterialDefinitionProperty",))
    uom = None
    for pid in ("UnitOfMeasure", "BaseUnitOfMeasure", "UoM"):
        if pid in props and props[pid][0]:
            uom = props[pid][0]
            break
    if uom:
        payload["uom"] = uom
    return CONTRACTS["item"], payload


def lot_fact(lot, mapping, sent_at):
    status_el = kid(lot, "Status")
    status = text(status_el) if status_el is not None else None
    if not status:
        return None  # a lot without a status: nothing we apply yet (quantities: see ROADMAP)
    action = mapping["lot_status"].get(status)
    if action is None:
        raise MfgPermanentError(
            f"{xpath(status_el)}: element <Status> (value {status!r}) is not in this backend's B2MML "
            f"mapping (lot_status); known: {sorted(mapping['lot_status'])}. Add it, then Retry the document.",
            path=xpath(status_el),
        )
    if action == "ignore":
        return None
    lot_id = text(lot, "ID")
    material_el = kid(lot, "MaterialDefinitionID")
    material = text(material_el) if material_el is not None else None
    if not lot_id:
        raise invalid(lot, "no ID: which lot is it?")
    if not material:
        raise invalid(lot, "no MaterialDefinitionID: the lot's material is needed to find the lot", lot_id)
    props = properties(lot, ("MaterialLotProperty",))
    reason, _el = mapped_property(props, mapping, "hold_reason")
    payload = {"sent_at": sent_at, "lot": lot_id, "product": material, "event_at": sent_at}
    if action == "hold":
        payload["reason"] = reason or f"B2MML lot status {status}"
    elif reason:
        payload["reason"] = reason
    return CONTRACTS[action], payload
