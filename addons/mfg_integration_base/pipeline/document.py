"""Documents (the wire-format step): a message received in a wire format other than the JSON
contract keeps its raw payload; the drain decodes it here into canonical facts, stored as child
messages in the same transaction as the document's outcome. No ORM model: the functions take
the document message and go through the wire format model (``mfg.wire.<code>``).

Why children are messages of their own: each fact then has everything a JSON message has
(validation against its contract, ordering key, retries, incident, Retry / Replay / Discard);
the document is stored and committed before anything is decoded (nothing received is lost, a
document that cannot be read is rejected with the reason); one document's facts are inserted in
one statement in document order, so their ids (the claim order within an ordering key) follow
the document; their external id ``<document key>#<position>`` makes a redelivered document
harmless (``INSERT … ON CONFLICT DO NOTHING`` on the idempotency index).
"""

import base64
import hashlib
import json

from odoo import fields

from ..exceptions import MfgPermanentError
from . import receive

MAX_KEY_LENGTH = 100  # characters of a document key kept as is (a longer one is hashed)


def raw_bytes(message):
    """The payload exactly as received: the stored text as UTF-8, or the bytes of a
    ``base64:`` payload (what was not UTF-8 text when it arrived)."""
    text = message.payload or ""
    if text.startswith("base64:"):
        return base64.b64decode(text[7:])
    return text.encode("utf-8")


def content_key(raw):
    """A document key from the document's bytes, for documents that carry no id."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:32]


def document_key(message, key):
    """The key the facts' ids start with: the document's own (hashed when long), and for a
    replay the replay's id (a replay is processed again, as a replayed JSON message is)."""
    key = str(key or "").strip() or content_key(raw_bytes(message))
    if len(key) > MAX_KEY_LENGTH:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:32]
    if message.replay_of_id:
        key = f"{key}~replay{message.id}"
    return key


def fact_types(message, facts):
    """The inbound exchange type of each fact, checked enabled on the document's backend."""
    env = message.env
    backend = message.backend_id
    Type = env["mfg.exchange.type"].sudo()
    types = {}
    for position, (code, _payload) in enumerate(facts, start=1):
        if code in types:
            continue
        etype = Type._find(code)
        if not etype or etype.direction != "inbound" or not backend._mfg_flow(etype):
            raise MfgPermanentError(
                env._(
                    "Fact %(pos)s of document %(doc)s is a %(code)s message, but backend %(backend)s has "
                    "no active inbound flow %(code)s: add the flow to the backend, then Retry the document.",
                    pos=position,
                    doc=message.display_name,
                    code=code,
                    backend=backend.code,
                )
            )
        types[code] = etype
    return types


def explode(message):
    """Decode document ``message`` and store its facts as child messages (see the module's
    docstring). Returns None: the document links to its facts by ``parent_id``."""
    message.ensure_one()
    env = message.env
    wire = env["mfg.wire.format"]._mfg_wire(message.wire_format)
    key, facts = wire._mfg_decode(message)
    key = document_key(message, key)
    types = fact_types(message, facts)
    now = fields.Datetime.now()
    rows = []
    for position, (code, payload) in enumerate(facts, start=1):
        etype = types[code]
        fact_id = f"{key}#{position}"
        if etype.external_id_pointer == "/message_id" and "message_id" not in payload:
            payload = {"message_id": fact_id, **payload}
        columns, _result = receive.read_item(
            {
                "payload": json.dumps(payload, ensure_ascii=False),
                "external_id": fact_id,
                "correlation_id": message.correlation_id,
            },
            etype,
        )
        rows.append(
            {
                "create_uid": env.uid,
                "create_date": now,
                "write_uid": env.uid,
                "write_date": now,
                "direction": "inbound",
                "backend_id": message.backend_id.id,
                "exchange_type_id": etype.id,
                "company_id": message.company_id.id,
                "transport": message.transport,
                "attempts": 0,
                "received_at": now,
                "name": f"IN {etype.contract}",
                "parent_id": message.id,
                "document_position": position,
                "wire_format": None,
                **columns,
            }
        )
    if not rows:
        return None
    inserted = receive.insert(env.cr, rows)
    if inserted:
        for channel in sorted({t.channel for t in types.values()}):
            message.backend_id._mfg_enqueue_drain("inbound", channel, sync_class="all")
    message.invalidate_recordset(["child_ids"])
    return None
