"""B2MML for the plant simulator (``plant_sim.py --wire b2mml``): what an MES speaking B2MML V0700
reads and writes. No Odoo inside.

- ``read_schedule(raw)``: a released ``<Verb>OperationsSchedule`` (or V0401-V0600
  ``ProductionSchedule``) → the release as the simulator plays it (the fields of
  ``erp.work_order_release``), or ``None`` for a schedule that releases nothing new (a change or
  a cancellation: the simulator logs and skips it).
- ``performance(kind, data, namespace)``: one fact of the simulator (consumption, scrap,
  completion) → a ``SyncOperationsPerformance`` document with one ``MaterialActual``.
"""

import re

from lxml import etree

V0700 = "http://www.mesa.org/xml/B2MML"
CONTENT_TYPE = "application/xml"
DURATION_RE = re.compile(
    r"^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)
# the facts a B2MML performance carries (operation status and downtime are not B2MML facts here)
USES = {
    "mes.material_consumption": "Consumed",
    "mes.scrap": "Scrapped",
    "mes.production_completion": "Produced",
}


class NotASchedule(ValueError):
    """The XML is not a schedule the simulator can play."""


def _local(el):
    return etree.QName(el).localname


def _kids(el, *names):
    return [k for k in el if isinstance(k.tag, str) and _local(k) in names]


def _kid(el, *names):
    found = _kids(el, *names)
    return found[0] if found else None


def _text(el, *names):
    node = _kid(el, *names) if names else el
    return (node.text or "").strip() if node is not None and node.text else None


def _minutes(value):
    match = DURATION_RE.match(value or "")
    if not match:
        return 0.0
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return days * 1440 + hours * 60 + minutes + seconds / 60


def _number(text):
    value = float(text)
    return int(value) if value == int(value) else value


def _material(req):
    qty = _kid(req, "Quantity")
    return {
        "code": _text(req, "MaterialDefinitionID"),
        "use": _text(req, "MaterialUse"),
        "quantity": _number(_text(qty, "QuantityString")) if qty is not None else 0,
        "uom": _text(qty, "UnitOfMeasure") if qty is not None else None,
        "lots": [lot.text.strip() for lot in _kids(req, "MaterialLotID") if lot.text],
    }


def read_schedule(raw):
    """The release a schedule document carries (see the module doc), or None."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise NotASchedule(f"not well-formed XML: {exc}") from exc
    if not _local(root).endswith(("OperationsSchedule", "ProductionSchedule")):
        raise NotASchedule(f"<{_local(root)}> is no OperationsSchedule / ProductionSchedule")
    data_area = _kid(root, "DataArea")
    schedule = _kid(data_area, "OperationsSchedule", "ProductionSchedule") if data_area is not None else None
    request = _kid(schedule, "OperationsRequest", "ProductionRequest") if schedule is not None else None
    if request is None:
        raise NotASchedule("no OperationsRequest / ProductionRequest in the schedule")
    work_order = _text(request, "ID")
    if not work_order:
        raise NotASchedule("the request has no ID (the work order)")
    release = {"work_order": work_order, "namespace": etree.QName(root).namespace or V0700}
    if _text(request, "RequestState") == "Cancelled":
        return None
    product, components, operations = None, [], []
    for segment in _kids(request, "SegmentRequirement"):
        for req in _kids(segment, "MaterialRequirement"):
            material = _material(req)
            if material["use"] == "Produced" and material["code"]:
                product = material
            elif material["use"] == "Consumed":
                line = {
                    "component": material["code"],
                    "quantity": material["quantity"],
                    "uom": material["uom"],
                }
                if material["lots"]:
                    line["lots"] = material["lots"]
                components.append(line)
        for sub in _kids(segment, "SegmentRequirement"):
            equipment = _kid(sub, "EquipmentRequirement")
            seq = _text(sub, "ID")
            operations.append(
                {
                    "sequence": int(seq) if seq and seq.isdigit() else seq,
                    "name": _text(sub, "Description") or seq,
                    "workcenter": _text(equipment, "EquipmentID") if equipment is not None else None,
                    "duration_expected": _minutes(_text(sub, "Duration")),
                }
            )
    if product is None:
        return None  # a change of quantity: nothing new to play
    release.update(
        product=product["code"],
        quantity=product["quantity"],
        uom=product["uom"],
        lot=product["lots"][0] if product["lots"] else None,
        components=components,
        operations=operations,
    )
    return release


def _el(parent, ns, tag, text=None):
    node = etree.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        node.text = str(text)
    return node


def _quantity(parent, ns, value, uom):
    qty = _el(parent, ns, "Quantity")
    _el(qty, ns, "QuantityString", value)
    _el(qty, ns, "DataType", "decimal")
    _el(qty, ns, "UnitOfMeasure", uom)


def performance(code, data, namespace=V0700):
    """A fact of ``code`` (``USES``) as a SyncOperationsPerformance document (bytes); its BODID is
    the fact's message_id (Odoo's facts become ``<BODID>#1``)."""
    ns = namespace or V0700
    root = etree.Element(f"{{{ns}}}SyncOperationsPerformance", nsmap={None: ns})
    root.set("releaseID", "1.0")
    area = _el(root, ns, "ApplicationArea")
    _el(area, ns, "CreationDateTime", data["sent_at"])
    _el(area, ns, "BODID", data["message_id"])
    data_area = _el(root, ns, "DataArea")
    _el(data_area, ns, "Sync")
    perf = _el(data_area, ns, "OperationsPerformance")
    _el(perf, ns, "ID", f"PERF-{data['work_order']}")
    _el(perf, ns, "OperationsType", "Production")
    _el(perf, ns, "PublishedDate", data["sent_at"])
    response = _el(perf, ns, "OperationsResponse")
    _el(response, ns, "ID", f"RESP-{data['work_order']}")
    _el(response, ns, "OperationsType", "Production")
    _el(response, ns, "OperationsRequestID", data["work_order"])
    if code == "mes.production_completion" and data.get("final"):
        _el(response, ns, "ResponseState", "Completed")
    segment = _el(response, ns, "SegmentResponse")
    _el(segment, ns, "ID", "1")
    _el(segment, ns, "OperationsType", "Production")
    if code == "mes.material_consumption":
        actuals = [
            (line["component"], line.get("lot"), line["quantity"], line["uom"]) for line in data["lines"]
        ]
    elif code == "mes.scrap":
        actuals = [(data["product"], data.get("lot"), data["quantity"], data["uom"])]
    else:
        actuals = [(None, data.get("lot"), data["quantity"], data["uom"])]
    for material, lot, quantity, uom in actuals:
        actual = _el(segment, ns, "MaterialActual")
        _el(actual, ns, "MaterialDefinitionID", material or data.get("product") or data["work_order"])
        if lot:
            _el(actual, ns, "MaterialLotID", lot)
        _el(actual, ns, "MaterialUse", USES[code])
        _quantity(actual, ns, quantity, uom)
        if code == "mes.scrap" and data.get("reason"):
            prop = _el(actual, ns, "MaterialActualProperty")
            _el(prop, ns, "ID", "ScrapReason")
            value = _el(prop, ns, "Value")
            _el(value, ns, "ValueString", data["reason"])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
