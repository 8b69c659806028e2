"""Reading and writing legacy flat files (CSV and fixed-width), with no ORM state.

A format is a ``FormatSpec``; ``read_records`` streams a binary file object and yields one
``Record`` per data record (never the whole file in memory); ``write_records`` writes canonical
records back in the same format. Errors name the line, the field, the column and the value.
"""

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from odoo.addons.mfg_integration_base.lib.dates import format_rfc3339, parse_rfc3339

TRUE_WORDS = {"1", "y", "yes", "true", "t", "x", "j", "ja", "o", "oui", "s", "si"}
FALSE_WORDS = {"0", "n", "no", "false", "f", "", "nein", "non"}


@dataclass
class ColumnSpec:
    field: str  # canonical field, dotted for nesting: "lot.name"
    ftype: str = "char"  # char | integer | float | date | datetime | boolean
    index: int = 0  # CSV: 1-based column number (0: by header name)
    header: str = ""  # CSV: column title in the header row
    start: int = 0  # fixed width: 1-based first character
    length: int = 0  # fixed width: number of characters
    required: bool = False
    constant: str = ""  # a value given by the format, not read from the file
    record_type: str = ""  # only for records of this type ("" = every type)
    mapping_kind: str = ""  # translate the value with the backend's code mappings of this kind


@dataclass
class FormatSpec:
    kind: str = "csv"  # csv | fixed
    encoding: str = "utf-8"
    delimiter: str = ","
    quotechar: str = '"'
    header_rows: int = 0
    decimal_separator: str = "."
    thousands_separator: str = ""
    date_format: str = "%Y-%m-%d"
    datetime_format: str = "%Y-%m-%d %H:%M:%S"
    timezone: str = "UTC"
    # the column telling the record type (multi-record files); empty: one record type
    record_type_index: int = 0
    record_type_start: int = 0
    record_type_length: int = 0
    columns: list = field(default_factory=list)
    # values for the {placeholders} of constant columns: file, checksum, received_at (+ line)
    placeholders: dict = field(default_factory=dict)
    # translate(kind, text) -> canonical text, or raises ValueError (given by the reader's caller)
    translate: object = None


class _Placeholders(dict):
    def __missing__(self, key):
        return "{" + key + "}"


@dataclass
class Record:
    line: int  # physical line number (1-based) where the record starts
    record_type: str
    values: dict | None  # canonical payload, None when the record has an error
    error: str | None
    raw: str


class FlatFileError(ValueError):
    """A record that cannot be read: the text names line, field, column and value."""


def _set_path(target, dotted, value):
    parts = dotted.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def convert(spec, column, text):  # noqa: C901 - one branch per column type, flat and readable
    """The canonical value of ``text`` for ``column`` (raises ValueError with a plain reason)."""
    ftype = column.ftype
    if ftype == "char":
        return text
    if ftype in ("integer", "float"):
        number = text.replace(" ", "")
        if spec.thousands_separator:
            number = number.replace(spec.thousands_separator, "")
        if spec.decimal_separator != ".":
            if "." in number and spec.decimal_separator not in number and not spec.thousands_separator:
                raise ValueError(f"uses '.' but the format's decimal separator is '{spec.decimal_separator}'")
            number = number.replace(spec.decimal_separator, ".")
        if number.endswith("-"):  # old systems write the sign last: 12.5-
            number = "-" + number[:-1]
        try:
            value = float(number)
        except ValueError:
            raise ValueError("is not a number") from None
        if ftype == "integer":
            if value != int(value):
                raise ValueError("is not a whole number")
            return int(value)
        return value
    if ftype == "date":
        try:
            return datetime.strptime(text, spec.date_format).date().isoformat()
        except ValueError:
            raise ValueError(f"is not a date in the format {spec.date_format}") from None
    if ftype == "datetime":
        try:
            value = datetime.strptime(text, spec.datetime_format)
        except ValueError:
            raise ValueError(f"is not a date and time in the format {spec.datetime_format}") from None
        return format_rfc3339(value.replace(tzinfo=ZoneInfo(spec.timezone or "UTC")))
    if ftype == "boolean":
        word = text.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError("is not a yes/no value")
    raise ValueError(f"has an unknown column type {ftype!r}")


def _column_label(spec, column):
    if spec.kind == "fixed":
        return f"characters {column.start}-{column.start + column.length - 1}"
    if column.index:
        return f"column {column.index}"
    return f"column '{column.header}'"


def build_values(spec, cells, line, record_type, header_index=None):
    """The canonical payload of one record; ``cells(column)`` gives the column's text or None."""
    values = {}
    for column in spec.columns:
        if column.record_type and column.record_type != record_type:
            continue
        if column.constant:
            text = column.constant
            if "{" in text:
                text = text.format_map(_Placeholders(spec.placeholders, line=line, record_type=record_type))
        else:
            text = cells(column)
            if text is None:
                if column.required:
                    raise FlatFileError(
                        f"line {line}: field '{column.field}' ({_column_label(spec, column)}) is missing"
                    )
                continue
            text = text.strip()
        if text == "" and column.ftype != "boolean":
            if column.required:
                raise FlatFileError(
                    f"line {line}: field '{column.field}' ({_column_label(spec, column)}) is empty"
                )
            continue
        try:
            if column.mapping_kind and spec.translate:
                text = spec.translate(column.mapping_kind, text)
            value = convert(spec, column, text)
        except ValueError as exc:
            raise FlatFileError(
                f"line {line}: field '{column.field}' ({_column_label(spec, column)}): '{text}' {exc}"
            ) from None
        _set_path(values, column.field, value)
    return values


def _decoded_lines(binary, encoding, first_line=1):
    """(line number, text) of each physical line; undecodable bytes become U+FFFD, and the
    line numbers that had some are remembered in the returned set."""
    bad = set()

    def lines():
        for number, raw in enumerate(binary, start=first_line):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError:
                text = raw.decode(encoding, errors="replace")
                bad.add(number)
            yield number, text

    return lines(), bad


def read_records(spec, binary):
    """Yield a ``Record`` per data record of the binary file object ``binary``, streaming."""
    lines, bad = _decoded_lines(binary, spec.encoding)
    if spec.kind == "fixed":
        yield from _read_fixed(spec, lines, bad)
    else:
        yield from _read_csv(spec, lines, bad)


def _read_fixed(spec, lines, bad):
    for number, text in lines:
        text = text.rstrip("\r\n")
        if number <= spec.header_rows or not text.strip():
            continue
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        record_type = ""
        if spec.record_type_start:
            start = spec.record_type_start - 1
            record_type = text[start : start + (spec.record_type_length or 1)].strip()
        if number in bad:
            yield Record(
                number, record_type, None, f"line {number}: bytes that are not {spec.encoding}", text
            )
            continue

        def cells(column, text=text):
            start = column.start - 1
            if start >= len(text):
                return None
            return text[start : start + column.length]

        try:
            values = build_values(spec, cells, number, record_type)
        except FlatFileError as exc:
            yield Record(number, record_type, None, str(exc), text)
            continue
        yield Record(number, record_type, values, None, text)


class _LineFeed:
    """Feeds csv.reader line by line and remembers where each record started."""

    def __init__(self, lines):
        self._lines = lines
        self.current = 0

    def __iter__(self):
        return self

    def __next__(self):
        number, text = next(self._lines)
        self.current = number
        return text


def _read_csv(spec, lines, bad):
    feed = _LineFeed(lines)
    reader = csv.reader(feed, delimiter=spec.delimiter or ",", quotechar=spec.quotechar or '"', strict=False)
    headers = {}
    record_start = 1
    for row in _rows_with_errors(reader):
        start, end = record_start, feed.current
        record_start = end + 1
        if isinstance(row, csv.Error):
            yield Record(start, "", None, f"line {start}: {row}", "")
            continue
        if start == 1 and row and row[0].startswith("\ufeff"):
            row[0] = row[0][1:]
        if start <= spec.header_rows:
            if start == spec.header_rows:
                headers = {name.strip(): i for i, name in enumerate(row)}
            continue
        if not row or all(not cell.strip() for cell in row):
            continue
        raw = (spec.delimiter or ",").join(row)
        record_type = ""
        if spec.record_type_index:
            i = spec.record_type_index - 1
            record_type = row[i].strip() if i < len(row) else ""
        if any(n in bad for n in range(start, end + 1)):
            yield Record(start, record_type, None, f"line {start}: bytes that are not {spec.encoding}", raw)
            continue

        try:
            values = build_values(spec, _csv_cells(row, headers), start, record_type)
        except FlatFileError as exc:
            yield Record(start, record_type, None, str(exc), raw)
            continue
        yield Record(start, record_type, values, None, raw)


def _csv_cells(row, headers):
    def cells(column):
        i = column.index - 1 if column.index else headers.get(column.header, -1)
        if i < 0 or i >= len(row):
            return None
        return row[i]

    return cells


def _rows_with_errors(reader):
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield exc


# ---------------------------------------------------------------------- writing
def _get_path(values, dotted):
    for part in dotted.split("."):
        if not isinstance(values, dict):
            return None
        values = values.get(part)
    return values


def format_value(spec, column, value):
    if value is None or value is False and column.ftype != "boolean":
        return ""
    if column.ftype == "float":
        text = f"{value:.6f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
        return text.replace(".", spec.decimal_separator or ".")
    if column.ftype == "boolean":
        return "1" if value else "0"
    if column.ftype == "date" and isinstance(value, str) and value:
        return datetime.fromisoformat(value[:10]).strftime(spec.date_format)
    if column.ftype == "datetime" and isinstance(value, str) and value:
        moment = parse_rfc3339(value, column.field).replace(tzinfo=UTC)
        return moment.astimezone(ZoneInfo(spec.timezone or "UTC")).strftime(spec.datetime_format)
    return str(value)


def write_records(spec, records, text_stream):
    """Write canonical records (dicts) to ``text_stream`` in the format (header row when the
    format has one). Fixed width: values are cut or padded to their column."""
    columns = [c for c in spec.columns if not c.record_type]
    if spec.kind == "fixed":
        width = max((c.start + c.length - 1 for c in columns), default=0)
        for number in range(spec.header_rows):
            line = [" "] * width
            if number == spec.header_rows - 1:
                for column in columns:
                    title = (column.header or column.field)[: column.length].ljust(column.length)
                    line[column.start - 1 : column.start - 1 + column.length] = title
            text_stream.write("".join(line).rstrip() + "\r\n")
        for values in records:
            line = [" "] * width
            for column in columns:
                text = column.constant or format_value(spec, column, _get_path(values, column.field))
                text = (
                    text.rjust(column.length)
                    if column.ftype in ("integer", "float")
                    else text.ljust(column.length)
                )
                line[column.start - 1 : column.start - 1 + column.length] = text[: column.length]
            text_stream.write("".join(line).rstrip() + "\r\n")
        return
    writer = csv.writer(
        text_stream, delimiter=spec.delimiter or ",", quotechar=spec.quotechar or '"', lineterminator="\r\n"
    )
    ordered = sorted(columns, key=lambda c: c.index or 0)
    if spec.header_rows:
        writer.writerow([c.header or c.field for c in ordered])
    for values in records:
        row = [""] * max((c.index for c in ordered), default=len(ordered))
        for pos, column in enumerate(ordered):
            i = column.index - 1 if column.index else pos
            while i >= len(row):
                row.append("")
            row[i] = column.constant or format_value(spec, column, _get_path(values, column.field))
        writer.writerow(row)


def preview(spec, data, limit=20):
    """The first records of a sample (bytes) and how many records/errors it has in all."""
    records, total, errors = [], 0, 0
    for record in read_records(spec, io.BytesIO(data)):
        total += 1
        errors += bool(record.error)
        if len(records) < limit:
            records.append(record)
    return records, total, errors


SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
