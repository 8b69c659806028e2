"""Receive (step 1 of the pipeline): inbound messages stored, one row each, before the sender is
answered. No ORM model: the functions take the ``mfg.message`` model (for its environment and
hooks) and write with SQL; ``mfg.message._mfg_receive`` calls them (each transport's receiver calls
that, e.g. the MQTT routing in ``transports/mqtt/routing.py``).
"""

import base64
import json

from psycopg2.extras import execute_values

from odoo import fields

from ..exceptions import MfgValidationError
from ..lib import contract

MAX_SENDER_KEY_LENGTH = 255  # the OpenAPI document's maxLength of Idempotency-Key / X-Correlation-Id


def sender_key_problem(value, what):
    """Why an id given by the transport (header, MQTT user property) cannot be kept, or None."""
    if value is None or value is False:
        return None
    text = str(value)
    if len(text) > MAX_SENDER_KEY_LENGTH:
        return (
            f"The {what} is {len(text):,} characters long; at most {MAX_SENDER_KEY_LENGTH} are allowed. "
            "Send a shorter id."
        )
    if "\x00" in text:
        return f"The {what} {text[:40]!r} holds a NUL character, which no text column can keep; remove it."
    return None


def as_key(value):
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).replace("\x00", "").strip()
    return text[:256] or None


def payload_text(raw, raw_fallback=False):
    """The payload as the text column keeps it: bytes decoded (bad bytes replaced), other values
    as JSON, with ``raw_fallback`` the bytes as ``base64:...``. Never a NUL (PostgreSQL text
    cannot hold one; such a payload is no JSON anyway)."""
    if raw_fallback:
        text = "base64:" + base64.b64encode(bytes(raw or b"")).decode()
    elif isinstance(raw, bytes | bytearray):
        text = bytes(raw).decode("utf-8", errors="replace")
    else:
        text = raw if isinstance(raw, str) else json.dumps(raw)
    return text.replace("\x00", "\ufffd")


def stored_text(raw):
    """How a document's raw payload is stored: the text when it is UTF-8 without NUL, else
    ``base64:`` and its bytes (kept exactly, see ``raw_bytes``)."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", errors="surrogatepass")
    raw = bytes(raw or b"")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text or text.startswith("base64:"):
        return "base64:" + base64.b64encode(raw).decode()
    return text


def document_key(wire, exchange_type):
    """The ordering key of the documents of one flow (see ``read_document``)."""
    return f"{wire._mfg_code()}:{exchange_type.code}"


def read_document(item, wire, backend, exchange_type, validate=False, reject_reason=None):
    """One item of a flow whose wire format is not the JSON contract (``wire``: its
    ``mfg.wire.<code>`` model): ``(columns, result)`` as ``read_item``. The payload is kept
    exactly as received (``document.stored_text``); it is decoded by the drain, not here; with
    ``validate`` the wire format's quick check runs now. Only the transport's ids are kept.
    Documents of one flow share an ordering key (``document_key``): they are decoded in the
    order they arrived, so the facts of a later document never overtake those of an earlier
    one; a document that fails holds the later ones of its flow (rejected ones do not)."""
    raw = item.get("payload")
    state, error, path, error_class = "received", None, None, None
    given_ext, given_corr = item.get("external_id"), item.get("correlation_id")
    key_problem = sender_key_problem(given_ext, "message id") or sender_key_problem(
        given_corr, "correlation id"
    )
    try:
        if reject_reason or item.get("reject_reason") or key_problem:
            raise MfgValidationError(item.get("reject_reason") or reject_reason or key_problem)
        if validate:
            wire._mfg_check(backend, raw)
            state = "queued"
    except MfgValidationError as exc:
        state, error, path, error_class = "rejected", exc.message, exc.path, "validation"
    if key_problem:
        given_ext = given_corr = None
    headers = item.get("headers")
    columns = {
        "state": state,
        "payload": stored_text(raw),
        "headers": json.dumps(headers) if headers else None,
        "external_id": as_key(given_ext),
        "correlation_id": as_key(given_corr),
        "ordering_key": document_key(wire, exchange_type),
        "error_class": error_class,
        "error_message": error,
        "error_path": path,
        "wire_format": wire._mfg_code(),
    }
    result = {"external_id": columns["external_id"], "state": state, "error": error, "errors": []}
    if error:
        result["errors"] = [{"path": path or "/", "message": error}]
    return columns, result


def read_item(item, exchange_type, validate=False, reject_reason=None):
    """One item to store: ``(columns, result)``.

    ``columns``: the message's own columns (state, payload, headers, ids, error), by name;
    ``result``: what the caller is told (``external_id``, ``state``, ``error``, ``errors``).
    ``exchange_type``: anything with ``json_schema`` and the ``*_pointer`` attributes of
    ``mfg.exchange.type``. A payload that is not a JSON object, or that the transport already
    refused (``reject_reason``), or whose given ids cannot be kept, is ``rejected`` (never
    lost); with ``validate`` the JSON Schema is checked now.
    """
    raw = item.get("payload")
    text = payload_text(raw, item.get("raw_fallback"))
    state, error, path, errors, error_class = "received", None, None, [], None
    data = None
    given_ext, given_corr = item.get("external_id"), item.get("correlation_id")
    key_problem = sender_key_problem(given_ext, "message id") or sender_key_problem(
        given_corr, "correlation id"
    )
    if key_problem:
        # Never let it reach the unique index (a long id overflows it) or a key column.
        given_ext = given_corr = None
    try:
        data = contract.parse_json(raw if raw is not None else "")
        if reject_reason or item.get("reject_reason") or key_problem:
            raise MfgValidationError(item.get("reject_reason") or reject_reason or key_problem)
        if validate:
            contract.validate(exchange_type.json_schema, data)
            state = "queued"
    except MfgValidationError as exc:
        state, error, path, errors, error_class = "rejected", exc.message, exc.path, exc.errors, "validation"
    external_id = given_ext or (
        data is not None and as_key(contract.resolve_pointer(data, exchange_type.external_id_pointer))
    )
    correlation_id = given_corr or (
        data is not None and as_key(contract.resolve_pointer(data, exchange_type.correlation_id_pointer))
    )
    ordering_key = data is not None and as_key(
        contract.composite_key(data, exchange_type.ordering_key_pointer)
    )
    if key_problem:
        external_id = correlation_id = None  # the sender may send it again, fixed
    headers = item.get("headers")
    columns = {
        "state": state,
        "payload": text,
        "headers": json.dumps(headers) if headers else None,
        "external_id": external_id or None,
        "correlation_id": correlation_id or None,
        "ordering_key": ordering_key or None,
        "error_class": error_class,
        "error_message": error,
        "error_path": path,
    }
    result = {"external_id": external_id or None, "state": state, "error": error, "errors": errors}
    return columns, result


def insert(cr, rows):
    """Insert ``rows`` (dicts: column name → value, the same columns in each) in one multi-row
    ``INSERT ... ON CONFLICT DO NOTHING``; a row whose external id is stored already for its
    backend, type and direction is skipped. Returns the ``(id, external_id)`` of the new rows,
    in no particular order.

    The ids are taken from the table's sequence first (one statement), so that each row's
    ``name`` gets its ``#id`` in the INSERT itself, as the compute would write it (raw SQL
    bypasses it), instead of a second statement rewriting every new row. A skipped row leaves
    a gap in the ids, as any rolled-back insert does."""
    cr.execute("SELECT nextval('mfg_message_id_seq') FROM generate_series(1, %s)", (len(rows),))
    ids = sorted(row_id for (row_id,) in cr.fetchall())
    rows = [{**row, "id": row_id, "name": f"{row['name']} #{row_id}"} for row, row_id in zip(rows, ids)]
    columns = list(rows[0])
    return execute_values(
        cr,
        """
        INSERT INTO mfg_message ({})
        VALUES %s
        ON CONFLICT (backend_id, exchange_type_id, direction, external_id)
           WHERE external_id IS NOT NULL DO NOTHING
        RETURNING id, external_id
        """.format(", ".join(columns)),
        [tuple(row[c] for c in columns) for row in rows],
        page_size=len(rows),
        fetch=True,
    )


def match_ids(results, inserted, existing):
    """Fill ``id`` and ``duplicate`` of ``results`` (in the order of the items) from the rows
    ``inserted`` (``(id, external_id)``, RETURNING gives no order: matched by external id, the
    anonymous ones by position) and ``existing`` (external id → ``(id, state)`` of messages
    stored before). A repeated external id, in the batch or stored before, is a duplicate:
    its state is the stored one, its errors are not reported again."""
    by_ext = {}
    anonymous = []
    for row_id, ext in inserted:
        if ext is None:
            anonymous.append(row_id)
        else:
            by_ext[ext] = row_id
    anonymous.sort()
    seen = set()
    anon_iter = iter(anonymous)
    for res in results:
        ext = res["external_id"]
        if ext is None:
            res.update(id=next(anon_iter), duplicate=False)
        elif ext in by_ext and ext not in seen:
            res.update(id=by_ext[ext], duplicate=False)
            seen.add(ext)
        else:
            mid, st = existing.get(ext) or (by_ext.get(ext), res["state"])
            res.update(id=mid, duplicate=True, state=st, error=None, errors=[])
    return results


def flow_wire(backend, exchange_type):
    """The wire format model of the backend's inbound flow of ``exchange_type`` (None: the
    JSON contract, or no flow)."""
    if exchange_type.direction != "inbound":
        return None
    flow = backend._mfg_flow(exchange_type)
    return backend.env["mfg.wire.format"]._mfg_wire(flow.wire_format) if flow else None


def receive(
    messages,
    backend,
    exchange_type,
    items,
    transport="api",
    validate=False,
    check_flow=True,
    reject_reason=None,
):
    """Store inbound messages; see ``mfg.message._mfg_receive`` (``messages``: that model)."""
    backend.ensure_one()
    exchange_type.ensure_one()
    if check_flow:
        backend._mfg_check_flow(exchange_type, "inbound")
    env = messages.env
    now = fields.Datetime.now()
    rows, results = [], []
    wire = flow_wire(backend, exchange_type)
    for item in items:
        if wire is not None:
            columns, result = read_document(
                item, wire, backend, exchange_type, validate=validate, reject_reason=reject_reason
            )
        else:
            columns, result = read_item(item, exchange_type, validate=validate, reject_reason=reject_reason)
            columns["wire_format"] = None
        rows.append(
            {
                "create_uid": env.uid,
                "create_date": now,
                "write_uid": env.uid,
                "write_date": now,
                "direction": "inbound",
                "backend_id": backend.id,
                "exchange_type_id": exchange_type.id,
                "company_id": backend.company_id.id,
                "transport": transport,
                "attempts": 0,
                "received_at": item.get("received_at") or now,
                "name": f"IN {exchange_type.contract}",
                **columns,
            }
        )
        results.append(result)
    if not rows:
        return []
    inserted = insert(env.cr, rows)
    new_exts = {ext for _id, ext in inserted if ext is not None}
    missing = [r["external_id"] for r in results if r["external_id"] and r["external_id"] not in new_exts]
    existing = {}
    if missing:
        env.cr.execute(
            """SELECT external_id, id, state FROM mfg_message
                WHERE backend_id = %s AND exchange_type_id = %s AND direction = 'inbound'
                  AND external_id IN %s""",
            (backend.id, exchange_type.id, tuple(missing)),
        )
        existing = {ext: (mid, st) for ext, mid, st in env.cr.fetchall()}
    match_ids(results, inserted, existing)
    backend._mfg_touch_contact()
    if any(not r["duplicate"] and r["state"] != "rejected" for r in results):
        backend._mfg_enqueue_drain("inbound", exchange_type.channel, sync_class=exchange_type.sync_class)
    return results
