import json
import uuid
from contextlib import suppress

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..lib.dates import format_rfc3339


class MfgOutbox(models.AbstractModel):
    """The transactional outbox: every outbound message is written here, in the business
    transaction that produced it, and sent by a drain job after that transaction commits.

    An outbound exchange type is a record (data) + its JSON Schema + a payload builder + one call:

        self.env["mfg.outbox"]._mfg_put(
            self.env["mfg.outbox"]._mfg_backends("erp.order_notice", [("company_id", "=", cid)]),
            "erp.order_notice",
            self._notice_payload,  # callable(backend) -> dict, or a dict
            ordering_key=self.name,
            record=self,
        )
    """

    _name = "mfg.outbox"
    _description = "Integration outbox"

    @api.model
    def _mfg_backends(self, exchange_type_code, domain=None):
        """Who gets a message of ``exchange_type_code``: the active backends (sudo) with an
        active flow of it, narrowed by a backend ``domain`` (company, plant warehouse...)."""
        return self.env["mfg.backend"]._mfg_backends_with_flow(exchange_type_code, domain)

    @api.model
    def _mfg_envelope(self, prefix, correlation_id=None):
        """The common head of an outbound payload: a unique ``message_id`` starting with
        ``prefix``, ``sent_at`` (now, RFC 3339) and the ``correlation_id`` if given."""
        data = {
            "message_id": f"{prefix}-{uuid.uuid4().hex[:12]}",
            "sent_at": format_rfc3339(fields.Datetime.now()),
        }
        if correlation_id:
            data["correlation_id"] = correlation_id
        return data

    @api.model
    def _mfg_put(
        self,
        backends,
        exchange_type_code,
        payload,
        ordering_key=None,
        correlation_id=None,
        headers=None,
        record=None,
        coalesce=False,
    ):
        """Write one outbound message of ``exchange_type_code`` per backend of ``backends``, in
        the caller's transaction: the message exists only if the business change that produced
        it commits; a drain job started after the commit sends it through the flow's transport.

        - ``payload``: a dict (sent as JSON) or a text (sent as is), or a callable(backend)
          returning one — codes differ per backend; None skips that backend.
        - ``ordering_key``, ``correlation_id``: a text, or a callable(payload) returning one.
        - ``record``: the business record the message is about: linked on the message (the
          record's "Integration messages" button lists it).
        - ``coalesce`` (with ``record``): a message of this type about ``record`` still queued
          for the backend (no drain has claimed it) is updated in place instead, keeping its
          ``message_id``: batch exchange types send the latest state once.

        Refuses (UserError) an unknown exchange type, and a backend without the flow.
        Returns the messages written or updated (mfg.message, sudo).
        """
        messages = self.env["mfg.message"].sudo()
        if coalesce and not record:
            raise ValueError("coalesce needs the record the messages are about")
        for backend in backends:
            data = payload(backend) if callable(payload) else payload
            if data is None:
                continue
            key = ordering_key(data) if callable(ordering_key) else ordering_key
            correlation = correlation_id(data) if callable(correlation_id) else correlation_id
            msg = messages.browse()
            if coalesce:
                msg = self._mfg_coalesce(backend, exchange_type_code, record, data, key, correlation)
            if not msg:
                msg = self._mfg_write(backend, exchange_type_code, data, key, correlation, headers)
                if record:
                    msg._mfg_link(record)
            messages |= msg
        return messages

    @api.model
    def _mfg_write(self, backend, exchange_type_code, payload, ordering_key, correlation_id, headers):
        """One queued outbound message for ``backend`` (was mfg.backend._mfg_outbox)."""
        backend.ensure_one()
        etype = backend.env["mfg.exchange.type"]._find(exchange_type_code)
        if not etype:
            raise UserError(self.env._("Unknown exchange type %(code)s.", code=exchange_type_code))
        backend._mfg_check_flow(etype, "outbound")
        flow = backend._mfg_flow(etype)
        msg = (
            backend.env["mfg.message"]
            .sudo()
            .create(
                {
                    "direction": "outbound",
                    "backend_id": backend.id,
                    "exchange_type_id": etype.id,
                    "company_id": backend.company_id.id,
                    "state": "queued",
                    "payload": self._mfg_text(payload),
                    "headers": json.dumps(headers) if headers else False,
                    "transport": flow.transport or "http",
                    "ordering_key": ordering_key or False,
                    "correlation_id": correlation_id or False,
                }
            )
        )
        backend._mfg_enqueue_drain("outbound", etype.channel, sync_class=etype.sync_class)
        return msg

    @api.model
    def _mfg_text(self, payload):
        return payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False, default=str)

    @api.model
    def _mfg_coalesce(self, backend, exchange_type_code, record, payload, ordering_key, correlation_id):
        """The queued message of this type about ``record`` for ``backend``, updated to
        ``payload`` (keeping its message_id), or an empty recordset.

        The queued message is locked with SKIP LOCKED: one a drain is claiming right now is not
        touched, a new message follows it instead.
        """
        Message = self.env["mfg.message"].sudo()
        etype = self.env["mfg.exchange.type"].sudo()._find(exchange_type_code)
        if not etype:
            return Message
        record.ensure_one()
        Message.flush_model(["state", "backend_id", "exchange_type_id", "direction"])
        self.env["mfg.message.record"].flush_model()
        self.env.cr.execute(
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
        row = self.env.cr.fetchone()
        if not row:
            return Message
        msg = Message.browse(row[0])
        if isinstance(payload, dict):
            with suppress(ValueError, KeyError, TypeError):  # no message id to keep: the new one
                payload = dict(payload, message_id=json.loads(msg.payload)["message_id"])
        msg.write(
            {
                "payload": self._mfg_text(payload),
                "ordering_key": ordering_key or False,
                "correlation_id": correlation_id or False,
            }
        )
        return msg
