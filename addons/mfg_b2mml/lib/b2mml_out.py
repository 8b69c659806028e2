"""Outbound B2MML (no ORM): canonical payloads encoded as B2MML V0700 documents.

- ``erp.work_order_release`` → ``<Verb>OperationsSchedule``: one OperationsSchedule and one
  OperationsRequest (ID = the work order) with one SegmentRequirement for the whole order,
  holding a MaterialRequirement per material (MaterialUse *Produced* for the product, *Consumed*
  for each component, quantities with their UnitOfMeasure, lots as MaterialLotID) and one nested
  SegmentRequirement per operation (EquipmentRequirement = the work center, Duration).
  V0700 has no ProductionSchedule any more: OperationsSchedule (OperationsType *Production*)
  is its successor, and the ``ProductionRequest`` of V0401-V0600 is its ``OperationsRequest``.
- ``erp.work_order_change`` → the same document for the same request: RequestState *Released*
  with the new quantity produced, or *Cancelled* (quantity 0); the reason as its Description.
- ``erp.item_master`` → ``<Verb>MaterialDefinition``: ID, Description and the unit, tracking,
  type, barcode, active as MaterialDefinitionProperty.
- ``b2mml.acknowledge`` → ``Acknowledge<Noun>`` in the original document's namespace.
- ``erp.bom`` → ``<Verb>OperationsDefinition``: V0700's successor of the ProductDefinition of
  V0401-V0600. One OperationsDefinition (ID = the BOM reference) with one OperationsMaterialBill
  (an item per material: the product *Produced* for the BOM quantity, each component *Consumed*,
  quantities with their UnitOfMeasure) and one OperationsSegment per routing operation
  (EquipmentSpecification/EquipmentID = the work center, Duration = minutes per cycle).

Element order follows the V0700 XSD (tests validate against it). The verb is ``Sync`` or
``Process`` (per backend); the namespace is the backend's (default V0700's).
"""

from decimal import Decimal

from lxml import etree

V0700 = "http://www.mesa.org/xml/B2MML"
VERBS = ("Sync", "Process")
RELEASE_ID = "1.0"  # releaseID of the BOD (OAGIS): the V0700 transaction schemas require one
CONTENT_TYPE = "application/xml"


class EncodeError(ValueError):
    """A canonical payload that cannot be written as B2MML (names the field and the value)."""


def number(value, field):
    """A canonical number as a B2MML QuantityString: plain decimal notation, no exponent."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EncodeError(f"field {field!r}: {value!r} is not a number")
    text = format(Decimal(str(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def duration(minutes, field):
    """Minutes as an xsd:duration (seconds: only the last component may have a fraction)."""
    seconds = number(round(float(minutes) * 60, 3), field)
    return f"PT{seconds}S"


class Builder:
    """Elements in one namespace, appended in the order they are written."""

    def __init__(self, namespace):
        self.ns = namespace or V0700

    def el(self, parent, tag, text=None, **attrs):
        qname = f"{{{self.ns}}}{tag}"
        node = (
            etree.Element(qname, nsmap={None: self.ns}) if parent is None else etree.SubElement(parent, qname)
        )
        for key, value in attrs.items():
            node.set(key, value)
        if text is not None:
            node.text = str(text)
        return node

    def opt(self, parent, tag, value):
        if value not in (None, "", []):
            self.el(parent, tag, value)

    def quantity(self, parent, value, uom, field):
        qty = self.el(parent, "Quantity")
        self.el(qty, "QuantityString", number(value, field))
        self.el(qty, "DataType", "decimal")
        self.el(qty, "UnitOfMeasure", uom)
        return qty

    def bod(self, verb, noun, data):
        """``<Verb><Noun>`` with its ApplicationArea and DataArea/<Verb>; returns (root, data area)."""
        if verb not in VERBS:
            raise EncodeError(f"B2MML verb {verb!r}: expected one of {', '.join(VERBS)}")
        root = self.el(None, f"{verb}{noun}", releaseID=RELEASE_ID)
        area = self.el(root, "ApplicationArea")
        self.el(area, "CreationDateTime", data["sent_at"])
        self.el(area, "BODID", data["message_id"])
        data_area = self.el(root, "DataArea")
        self.el(data_area, verb)
        return root, data_area

    def material(self, parent, use, code, qty, uom, lots, field):
        req = self.el(parent, "MaterialRequirement")
        self.opt(req, "MaterialDefinitionID", code)
        for lot in lots or ():
            self.el(req, "MaterialLotID", lot)
        self.el(req, "MaterialUse", use)
        self.quantity(req, qty, uom, field)
        return req


def _serialize(root):
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _schedule(b, verb, data, state):
    """The schedule and request skeleton shared by release and change: (root, request)."""
    root, data_area = b.bod(verb, "OperationsSchedule", data)
    schedule = b.el(data_area, "OperationsSchedule")
    b.el(schedule, "ID", data["work_order"])
    b.el(schedule, "OperationsType", "Production")
    b.opt(schedule, "StartTime", data.get("planned_start"))
    b.opt(schedule, "EndTime", data.get("planned_end"))
    b.el(schedule, "PublishedDate", data["sent_at"])
    request = b.el(schedule, "OperationsRequest")
    b.el(request, "ID", data["work_order"])
    b.opt(request, "Description", data.get("reason"))
    b.el(request, "OperationsType", "Production")
    b.opt(request, "StartTime", data.get("planned_start"))
    b.opt(request, "EndTime", data.get("planned_end"))
    b.el(request, "RequestState", state)
    return root, request


def release(data, namespace=V0700, verb="Sync"):
    """``erp.work_order_release`` → ``<Verb>OperationsSchedule`` (bytes, UTF-8)."""
    b = Builder(namespace)
    root, request = _schedule(b, verb, data, "Released")
    segment = b.el(request, "SegmentRequirement")
    b.el(segment, "ID", data["work_order"])
    b.el(segment, "OperationsType", "Production")
    b.opt(segment, "EarliestStartTime", data.get("planned_start"))
    b.opt(segment, "LatestEndTime", data.get("planned_end"))
    operations = data.get("operations") or []
    if operations:
        b.el(
            segment,
            "Duration",
            duration(sum(op["duration_expected"] for op in operations), "duration_expected"),
        )
    lot = data.get("lot")
    b.material(
        segment, "Produced", data["product"], data["quantity"], data["uom"], [lot] if lot else [], "quantity"
    )
    for i, line in enumerate(data.get("components") or []):
        b.material(
            segment,
            "Consumed",
            line["component"],
            line["quantity"],
            line["uom"],
            line.get("lots"),
            f"components[{i}].quantity",
        )
    for i, op in enumerate(operations):
        sub = b.el(segment, "SegmentRequirement")
        b.el(sub, "ID", str(op["sequence"]))
        b.opt(sub, "Description", op.get("name"))
        b.el(sub, "OperationsType", "Production")
        b.el(sub, "Duration", duration(op["duration_expected"], f"operations[{i}].duration_expected"))
        equipment = b.el(sub, "EquipmentRequirement")
        b.el(equipment, "EquipmentID", op["workcenter"])
    return _serialize(root)


def change(data, namespace=V0700, verb="Sync"):
    """``erp.work_order_change`` → ``<Verb>OperationsSchedule`` of the same request: Released
    with the new quantity to produce, or Cancelled."""
    b = Builder(namespace)
    cancelled = data["change"] == "cancel"
    root, request = _schedule(b, verb, data, "Cancelled" if cancelled else "Released")
    segment = b.el(request, "SegmentRequirement")
    b.el(segment, "ID", data["work_order"])
    b.el(segment, "OperationsType", "Production")
    if cancelled:
        b.el(segment, "SegmentState", "Cancelled")
    b.material(segment, "Produced", None, data["quantity"], data["uom"], [], "quantity")
    return _serialize(root)


ITEM_PROPERTIES = ("uom", "tracking", "type", "barcode", "active")
ITEM_PROPERTY_IDS = {"uom": "UnitOfMeasure"}


def material_definition(data, namespace=V0700, verb="Sync"):
    """``erp.item_master`` → ``<Verb>MaterialDefinition``."""
    b = Builder(namespace)
    root, data_area = b.bod(verb, "MaterialDefinition", data)
    definition = b.el(data_area, "MaterialDefinition")
    b.el(definition, "ID", data["product"])
    b.opt(definition, "Description", data.get("name"))
    for key in ITEM_PROPERTIES:
        value = data.get(key)
        if value is None or value == "":
            continue
        prop = b.el(definition, "MaterialDefinitionProperty")
        b.el(prop, "ID", ITEM_PROPERTY_IDS.get(key, key))
        val = b.el(prop, "Value")
        b.el(val, "ValueString", str(value).lower() if isinstance(value, bool) else value)
        b.el(val, "DataType", "Indicator" if isinstance(value, bool) else "string")
    return _serialize(root)


def bom(data, namespace=V0700, verb="Sync"):
    """``erp.bom`` → ``<Verb>OperationsDefinition``: the bill of materials as an
    OperationsMaterialBill, the routing as OperationsSegments."""
    b = Builder(namespace)
    root, data_area = b.bod(verb, "OperationsDefinition", data)
    definition = b.el(data_area, "OperationsDefinition")
    b.el(definition, "ID", data["bom"])
    b.el(definition, "Description", f"Bill of materials {data['bom']} of {data['product']}")
    b.el(definition, "OperationsType", "Production")
    b.el(definition, "PublishedDate", data.get("approved_at") or data["sent_at"])
    b.el(definition, "BillOfMaterialsID", data["bom"])
    bill = b.el(definition, "OperationsMaterialBill")
    b.el(bill, "ID", data["bom"])
    b.el(bill, "Description", BOM_TYPES.get(data["type"], data["type"]))
    b.el(bill, "UseType", data["type"])
    item = b.el(bill, "OperationsMaterialBillItem")
    b.el(item, "ID", "0")
    b.el(item, "MaterialDefinitionID", data["product"])
    b.el(item, "UseType", "Produced")
    b.quantity(item, data["quantity"], data["uom"], "quantity")
    for i, line in enumerate(data["components"]):
        item = b.el(bill, "OperationsMaterialBillItem")
        b.el(item, "ID", str(i + 1))
        b.el(item, "MaterialDefinitionID", line["component"])
        b.el(item, "UseType", "Consumed")
        b.quantity(item, line["quantity"], line["uom"], f"components[{i}].quantity")
    for i, op in enumerate(data["operations"]):
        segment = b.el(definition, "OperationsSegment")
        b.el(segment, "ID", str(op["sequence"]))
        b.opt(segment, "Description", op.get("name"))
        b.el(segment, "OperationsType", "Production")
        b.el(segment, "Duration", duration(op["duration"], f"operations[{i}].duration"))
        b.el(segment, "BillOfMaterialsID", data["bom"])
        equipment = b.el(segment, "EquipmentSpecification")
        b.el(equipment, "EquipmentID", op["workcenter"])
    return _serialize(root)


def acknowledge(data, namespace=V0700, verb="Sync"):
    """``b2mml.acknowledge`` → ``Acknowledge<Noun>`` in the namespace of the acknowledged
    document (its version: the MES reads what it writes), whatever the backend's namespace and
    verb. ``DataArea/Acknowledge``: ``OriginalApplicationArea`` (the original's CreationDateTime
    and BODID) and ``ResponseCriteria`` — ``ResponseExpression`` with ``actionCode`` Accepted or
    Rejected and ``ChangeStatus`` (Code = the same, Description = the reason of a rejection); then the
    acknowledged nouns by their IDs (the BOD needs at least one)."""
    b = Builder(data.get("namespace") or namespace)
    code = data["response_code"]
    root = b.el(None, f"Acknowledge{data['noun']}", releaseID=RELEASE_ID)
    area = b.el(root, "ApplicationArea")
    b.el(area, "CreationDateTime", data["sent_at"])
    b.el(area, "BODID", data["message_id"])
    data_area = b.el(root, "DataArea")
    ack = b.el(data_area, "Acknowledge")
    original = b.el(ack, "OriginalApplicationArea")
    b.el(original, "CreationDateTime", data["original_created_at"])
    b.opt(original, "BODID", data.get("original_bod_id"))
    criteria = b.el(ack, "ResponseCriteria")
    reason = data.get("reason") or None
    b.el(criteria, "ResponseExpression", code, actionCode=code)
    status = b.el(criteria, "ChangeStatus")
    b.el(status, "Code", code)
    b.opt(status, "Description", reason)
    for noun_id in data.get("noun_ids") or [""]:
        noun = b.el(data_area, data["noun"])
        b.opt(noun, "ID", noun_id)
    return _serialize(root)


BOM_TYPES = {"normal": "Manufacture", "phantom": "Kit (phantom)", "subcontract": "Subcontracting"}

# contract code → encoder(data, namespace, verb)
ENCODERS = {
    "erp.work_order_release": release,
    "erp.work_order_change": change,
    "erp.item_master": material_definition,
    "erp.bom": bom,
    "b2mml.acknowledge": acknowledge,
}


def encode(code, data, namespace=V0700, verb="Sync"):
    """The B2MML document (bytes) of canonical ``data`` of exchange type ``code``."""
    encoder = ENCODERS.get(code)
    if encoder is None:
        raise EncodeError(
            f"exchange type {code!r} has no B2MML encoding; known: {', '.join(sorted(ENCODERS))}"
        )
    try:
        return encoder(data, namespace=namespace, verb=verb)
    except KeyError as exc:
        raise EncodeError(f"field {exc.args[0]!r} is missing from the {code} payload") from None
