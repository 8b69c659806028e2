"""Helpers shared by the MES outbound flows: codes, envelope, coalescing outbox (no ORM state)."""

import json
import uuid

from odoo import fields


def utc_text(value):
    """RFC 3339 text of an Odoo UTC datetime (None when empty)."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def plant_code(backend, kind, record, odoo_code):
    """The plant's code of ``record`` for ``backend``: its code mapping, else the Odoo code
    (None when there is neither)."""
    if not record:
        return None
    return backend._mfg_code_for(kind, record, odoo_code or None) or None


def envelope(prefix, correlation_id=None):
    """The common fields of an outbound payload."""
    data = {
        "message_id": f"{prefix}-{uuid.uuid4().hex[:12]}",
        "sent_at": utc_text(fields.Datetime.now()),
    }
    if correlation_id:
        data["correlation_id"] = correlation_id
    return data


def outbox_coalesced(backend, exchange_type_code, record, payload, ordering_key):
    """Put ``payload`` (about ``record``) in ``backend``'s outbox; if a message of the same
    type about the same record is still queued (not claimed by a drain yet), update that one
    in place instead (it keeps its message id): batch flows send the latest state once.

    The queued message is locked with SKIP LOCKED: one a drain is claiming right now is not
    touched, a new message follows it instead.
    """
    env = backend.env
    etype = env["mfg.exchange.type"].sudo()._find(exchange_type_code)
    Message = env["mfg.message"].sudo()
    if etype:
        Message.flush_model(["state", "backend_id", "exchange_type_id", "direction"])
        env["mfg.message.record"].flush_model()
        env.cr.execute(
            """
            SELECT m.id FROM mfg_message m
             WHERE m.backend_id = %s AND m.exchange_type_id = %s AND m.direction = 'outbound'
               AND m.state = 'queued'
               AND EXISTS (SELECT 1 FROM mfg_message_record r
                            WHERE r.message_id = m.id AND r.res_model = %s AND r.res_id = %s)
             ORDER BY m.id DESC LIMIT 1
               FOR UPDATE OF m SKIP LOCKED
            """,
            (backend.id, etype.id, record._name, record.id),
        )
        row = env.cr.fetchone()
        if row:
            msg = Message.browse(row[0])
            try:
                payload = dict(payload, message_id=json.loads(msg.payload)["message_id"])
            except (ValueError, KeyError, TypeError):
                pass
            msg.write(
                {
                    "payload": json.dumps(payload, ensure_ascii=False, default=str),
                    "ordering_key": ordering_key or False,
                    "correlation_id": payload.get("correlation_id") or ordering_key or False,
                }
            )
            return msg
    msg = backend._mfg_outbox(
        exchange_type_code,
        payload,
        ordering_key=ordering_key,
        correlation_id=payload.get("correlation_id") or ordering_key,
    )
    msg._mfg_link(record)
    return msg
