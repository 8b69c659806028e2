"""Sparkplug B wire format: topics, protobuf payloads, metric values by datatype. No ORM.

The protobuf classes are Eclipse Tahu's ``sparkplug_b.proto`` compiled by protoc
(``sparkplug_b_pb2.py``, with the ``protobuf`` runtime from PyPI). Decoding is strict and
bounded: payload size and metric count are capped, a payload that protobuf refuses or a value
that does not fit its datatype raises ``SparkplugError`` naming what is wrong.
"""

import math
import struct
import time

from google.protobuf.message import DecodeError

from . import sparkplug_b_pb2 as pb

NAMESPACE = "spBv1.0"
MAX_PAYLOAD_BYTES = 1024 * 1024
MAX_METRICS = 10000
REBIRTH_METRIC = "Node Control/Rebirth"
BDSEQ_METRIC = "bdSeq"
MESSAGE_TYPES = ("NBIRTH", "NDEATH", "DBIRTH", "DDEATH", "NDATA", "DDATA", "NCMD", "DCMD")

# Sparkplug B datatypes (sparkplug_b.proto, enum DataType)
DT = dict(pb.DataType.items())
DT_NAME = {number: name for name, number in DT.items()}

_INT_WIDTH = {"Int8": 8, "Int16": 16, "Int32": 32, "Int64": 64}
_UINT = ("UInt8", "UInt16", "UInt32", "UInt64")
_ARRAY_FORMATS = {
    "Int8Array": "b",
    "Int16Array": "h",
    "Int32Array": "i",
    "Int64Array": "q",
    "UInt8Array": "B",
    "UInt16Array": "H",
    "UInt32Array": "I",
    "UInt64Array": "Q",
    "FloatArray": "f",
    "DoubleArray": "d",
    "DateTimeArray": "q",
}


class SparkplugError(ValueError):
    """A Sparkplug topic or payload that cannot be read; the text names the field and value."""


class Topic:
    __slots__ = ("group", "message_type", "edge_node", "device")

    def __init__(self, group, message_type, edge_node, device=None):
        self.group = group
        self.message_type = message_type
        self.edge_node = edge_node
        self.device = device

    def __str__(self):
        parts = [NAMESPACE, self.group, self.message_type, self.edge_node]
        if self.device:
            parts.append(self.device)
        return "/".join(parts)


def parse_topic(topic):
    """``spBv1.0/<group>/<type>/<edge node>[/<device>]`` → ``Topic`` (SparkplugError otherwise).
    The host STATE topic (``spBv1.0/STATE/<host id>``) is not an edge node topic."""
    parts = topic.split("/")
    if len(parts) not in (4, 5) or parts[0] != NAMESPACE:
        raise SparkplugError(f"Topic {topic[:200]!r} is not a Sparkplug B edge node topic")
    if parts[2] not in MESSAGE_TYPES:
        raise SparkplugError(f"Topic {topic[:200]!r}: unknown message type {parts[2][:20]!r}")
    device_type = parts[2].startswith("D")
    if device_type != (len(parts) == 5):
        raise SparkplugError(
            f"Topic {topic[:200]!r}: {parts[2]} needs {'a' if device_type else 'no'} device id"
        )
    return Topic(parts[1], parts[2], parts[3], parts[4] if len(parts) == 5 else None)


def decode(raw):
    """Protobuf bytes → ``pb.Payload``; SparkplugError when too large, unreadable or too many metrics."""
    raw = bytes(raw or b"")
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise SparkplugError(
            f"Payload of {len(raw):,} bytes exceeds the limit of {MAX_PAYLOAD_BYTES:,} bytes"
        )
    payload = pb.Payload()
    try:
        payload.ParseFromString(raw)
    except (DecodeError, RuntimeWarning, ValueError) as exc:
        raise SparkplugError(f"Payload is not a Sparkplug B protobuf message: {exc}") from exc
    if len(payload.metrics) > MAX_METRICS:
        raise SparkplugError(
            f"Payload holds {len(payload.metrics):,} metrics; at most {MAX_METRICS:,} are read"
        )
    return payload


def _signed(value, bits):
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def _unpack_array(name, raw):
    if name == "BooleanArray":
        if len(raw) < 4:
            raise SparkplugError("BooleanArray value shorter than its 4-byte count")
        (count,) = struct.unpack_from("<I", raw)
        bits = raw[4:]
        if count > len(bits) * 8:
            raise SparkplugError(f"BooleanArray says {count} values but holds {len(bits) * 8} bits")
        return [bool(bits[i // 8] & (0x80 >> (i % 8))) for i in range(count)]
    if name == "StringArray":
        if raw and not raw.endswith(b"\x00"):
            raise SparkplugError("StringArray value is not NUL-terminated")
        return [s.decode("utf-8", errors="replace") for s in raw.split(b"\x00")[:-1]]
    fmt = _ARRAY_FORMATS[name]
    size = struct.calcsize(fmt)
    if len(raw) % size:
        raise SparkplugError(f"{name} value of {len(raw)} bytes is not a whole number of {size}-byte items")
    return list(struct.unpack(f"<{len(raw) // size}{fmt}", raw))


def metric_value(metric, datatype=None):
    """The Python value of a metric (``datatype``: the birth's, when the metric carries none).

    Integers are signed per their width (Sparkplug 3.0 carries Int8..Int64 as two's complement
    in unsigned fields); DateTime is milliseconds since the epoch; arrays are lists; DataSet a
    list of row lists; Template a dict. ``is_null`` → None. Floats must be finite."""
    datatype = metric.datatype or datatype or 0
    name = DT_NAME.get(datatype)
    if name is None or name == "Unknown":
        raise SparkplugError(f"Metric {metric.name or metric.alias!r}: unknown datatype {datatype}")
    if metric.is_null:
        return None
    field = metric.WhichOneof("value")
    if name in _INT_WIDTH:
        raw = metric.long_value if name == "Int64" else metric.int_value
        bits = _INT_WIDTH[name]
        return _signed(raw & ((1 << bits) - 1), bits)
    if name in _UINT:
        return metric.long_value if name == "UInt64" else metric.int_value
    if name == "DateTime":
        return metric.long_value
    if name in ("Float", "Double"):
        value = metric.float_value if name == "Float" else metric.double_value
        if not math.isfinite(value):
            raise SparkplugError(
                f"Metric {metric.name or metric.alias!r}: {name} value {value} is not finite"
            )
        return value
    if name == "Boolean":
        return metric.boolean_value
    if name in ("String", "Text", "UUID"):
        return metric.string_value
    if name in ("Bytes", "File"):
        return bytes(metric.bytes_value)
    if name in _ARRAY_FORMATS or name in ("BooleanArray", "StringArray"):
        return _unpack_array(name, bytes(metric.bytes_value))
    if name == "DataSet":
        ds = metric.dataset_value
        return {
            "columns": list(ds.columns),
            "rows": [[_dataset_cell(cell) for cell in row.elements] for row in ds.rows],
        }
    if name == "Template":
        tpl = metric.template_value
        return {
            "template_ref": tpl.template_ref,
            "metrics": len(tpl.metrics),
            "is_definition": tpl.is_definition,
        }
    raise SparkplugError(f"Metric {metric.name or metric.alias!r}: datatype {name} ({field}) is not read")


def _dataset_cell(cell):
    field = cell.WhichOneof("value")
    return getattr(cell, field) if field and field != "extension_value" else None


# ------------------------------------------------------------------ encoding (host commands, simulator)
def now_ms():
    return int(time.time() * 1000)


def set_value(metric, datatype, value):
    """Put ``value`` in ``metric`` as Sparkplug B ``datatype`` (a name of ``DT``)."""
    metric.datatype = DT[datatype]
    if value is None:
        metric.is_null = True
    elif datatype in _INT_WIDTH or datatype in _UINT or datatype == "DateTime":
        _set_integer(metric, datatype, value)
    elif datatype == "Float":
        metric.float_value = value
    elif datatype == "Double":
        metric.double_value = value
    elif datatype == "Boolean":
        metric.boolean_value = value
    elif datatype in ("String", "Text", "UUID"):
        metric.string_value = value
    elif datatype in ("Bytes", "File"):
        metric.bytes_value = value
    elif datatype in _ARRAY_FORMATS or datatype in ("BooleanArray", "StringArray"):
        metric.bytes_value = _pack_array(datatype, value)
    elif datatype == "DataSet":
        _set_dataset(metric.dataset_value, value)
    elif datatype == "Template":
        metric.template_value.template_ref = value.get("template_ref", "")
        metric.template_value.is_definition = bool(value.get("is_definition"))
    else:
        raise SparkplugError(f"Datatype {datatype} is not written")
    return metric


def _set_integer(metric, datatype, value):
    if datatype in _INT_WIDTH:
        value &= (1 << _INT_WIDTH[datatype]) - 1  # two's complement in the unsigned field
    if datatype in ("Int64", "UInt64", "DateTime"):
        metric.long_value = value
    else:
        metric.int_value = value


def _pack_array(datatype, value):
    if datatype == "BooleanArray":
        bits = bytearray((len(value) + 7) // 8)
        for i, flag in enumerate(value):
            if flag:
                bits[i // 8] |= 0x80 >> (i % 8)
        return struct.pack("<I", len(value)) + bytes(bits)
    if datatype == "StringArray":
        return b"".join(s.encode() + b"\x00" for s in value)
    return struct.pack(f"<{len(value)}{_ARRAY_FORMATS[datatype]}", *value)


_DATASET_FIELDS = {"String": "string_value", "Text": "string_value", "Boolean": "boolean_value"}
_DATASET_FIELDS.update(Double="double_value", Float="float_value", Int64="long_value", UInt64="long_value")
_DATASET_FIELDS.update(DateTime="long_value")


def _set_dataset(ds, value):
    ds.num_of_columns = len(value["columns"])
    ds.columns.extend(value["columns"])
    ds.types.extend(DT[t] for t in value["types"])
    for row in value["rows"]:
        elements = ds.rows.add().elements
        for cell, type_name in zip(row, value["types"]):
            setattr(elements.add(), _DATASET_FIELDS.get(type_name, "int_value"), cell)


def payload(metrics=(), seq=None, timestamp=None):
    """A ``pb.Payload``: ``metrics`` are dicts with name/alias/datatype/value/timestamp/is_historical."""
    out = pb.Payload(timestamp=timestamp if timestamp is not None else now_ms())
    if seq is not None:
        out.seq = seq
    for spec in metrics:
        metric = out.metrics.add()
        if spec.get("name"):
            metric.name = spec["name"]
        if spec.get("alias") is not None:
            metric.alias = spec["alias"]
        metric.timestamp = spec.get("timestamp") or out.timestamp
        if spec.get("is_historical"):
            metric.is_historical = True
        set_value(metric, spec["datatype"], spec.get("value"))
        if spec.get("omit_datatype"):
            metric.ClearField("datatype")
    return out


def rebirth_command(timestamp=None):
    """The NCMD payload that asks an edge node for a rebirth (``Node Control/Rebirth`` = true)."""
    return payload([{"name": REBIRTH_METRIC, "datatype": "Boolean", "value": True}], timestamp=timestamp)
