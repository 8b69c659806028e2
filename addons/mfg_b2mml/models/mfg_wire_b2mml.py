from lxml import etree

from odoo import api, models

from odoo.addons.mfg_integration_base.exceptions import MfgError, MfgPermanentError, MfgValidationError
from odoo.addons.mfg_integration_base.pipeline import document

from ..lib import b2mml, b2mml_out, b2mml_xsd, xml_safe

ACK_TYPE = "b2mml.acknowledge"


class MfgWireB2mml(models.AbstractModel):
    """B2MML XML (ISA-95), V0401 to V0700: production performance → consumption, completion and
    scrap facts; material information / lots → lot hold and release; material definitions →
    item master facts (``lib/b2mml.py``, parsed by ``lib/xml_safe.py``).

    Outbound (V0700 structure): work-order release / change → OperationsSchedule, item master →
    MaterialDefinition (``lib/b2mml_out.py``), optionally checked against the shipped XSD
    (``lib/b2mml_xsd.py``)."""

    _name = "mfg.wire.b2mml"
    _inherit = "mfg.wire.format"
    _description = "Integration Wire Format: B2MML XML"

    @api.model
    def _mfg_content_types(self):
        return ("application/xml", "text/xml")

    @api.model
    def _mfg_openapi_description(self):
        return self.env._(
            "a B2MML (ISA-95) XML document, V0401 to V0700 (e.g. SyncOperationsPerformance, "
            "ProcessProductionPerformance, SyncMaterialInformation), posted as it is: stored as received "
            "(202), then read into canonical facts (child messages). 422: not well-formed, a DOCTYPE, or "
            "not a B2MML document this hub reads (stored as rejected with the reason)."
        )

    @api.model
    def _mfg_root(self, raw, max_bytes):
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        root = xml_safe.parse(bytes(raw or b""), max_bytes)
        if not b2mml.is_b2mml(root) or b2mml.local(root) not in b2mml.ROOTS:
            raise b2mml.invalid(
                root,
                "not a B2MML document this hub reads; expected one of " + ", ".join(sorted(b2mml.ROOTS)),
                root.tag,
            )
        return root

    @api.model
    def _mfg_check(self, backend, raw):
        """At receive (REST): well-formed, no DOCTYPE, bounded, a B2MML root we read."""
        self._mfg_root(raw, backend._mfg_b2mml_mapping()["max_document_bytes"])

    @api.model
    def _mfg_decode(self, message):
        backend = message.backend_id
        mapping = backend._mfg_b2mml_mapping()
        root = self._mfg_root(document.raw_bytes(message), mapping["max_document_bytes"])
        if backend.b2mml_validate_inbound:
            self._mfg_validate_inbound(backend, root)
        key, facts = b2mml.decode(root, mapping, message.received_at)
        if backend.b2mml_acknowledge:
            info = b2mml.process_document(root)
            if info:
                # Same savepoint as the facts: a document whose facts cannot be stored is
                # not acknowledged (it fails, and is acknowledged when a retry reads it).
                self._mfg_acknowledge(message, info, document.document_key(message, key), facts=len(facts))
        return key, facts

    @api.model
    def _mfg_validate_inbound(self, backend, root):
        """Check a parsed inbound document against the shipped XSD of its namespace's version:
        ``MfgValidationError`` (rejected) naming the line, the element and the schema's message
        of the first errors; ``MfgPermanentError`` (failed: fix the setting, Retry) when no
        schema ships for that version."""
        try:
            problems = b2mml_xsd.invalid_elements(root)
        except b2mml_xsd.SchemaMissing as exc:
            raise MfgPermanentError(
                self.env._(
                    "Backend %(backend)s validates inbound B2MML against the XSD, but %(error)s: the "
                    "document was not read. Clear 'Validate inbound B2MML against the XSD' on the "
                    "backend (the document is then read leniently), then Retry it.",
                    backend=backend.code,
                    error=exc,
                ),
                path="/",
            ) from exc
        if not problems:
            return
        lines = []
        for line, element, text in problems[:5]:
            where = (
                f"{b2mml.xpath(element)}: element <{b2mml.local(element)}>" if element is not None else "?"
            )
            lines.append(f"line {line}, {where}: {text}")
        first = problems[0][1]
        raise MfgValidationError(
            self.env._(
                "The document is not valid against the B2MML %(version)s XSD (%(n)s error(s)), nothing "
                "was read: %(errors)s",
                version=b2mml_xsd.VERSIONS.get(etree.QName(root).namespace),
                n=len(problems),
                errors="; ".join(lines),
            ),
            path=b2mml.xpath(first) if first is not None else "/",
        )

    # ------------------------------------------------------------------ acknowledgements
    @api.model
    def _mfg_acknowledge(self, message, info, key, reason=None, facts=None):
        """Queue ``Acknowledge<Noun>`` of document ``message`` (``info``:
        ``b2mml.process_document``) on its backend's ``b2mml.acknowledge`` flow: Accepted, or
        Rejected with ``reason``. One per document key (``key``: the facts' prefix, so a
        redelivered document is not acknowledged twice, a replay is). Raises
        ``MfgPermanentError`` when the backend has no such flow."""
        backend = message.backend_id.sudo()
        etype = self.env["mfg.exchange.type"].sudo()._find(ACK_TYPE)
        Message = self.env["mfg.message"].sudo()
        if Message.search_count(
            [
                ("backend_id", "=", backend.id),
                ("exchange_type_id", "=", etype.id),
                ("direction", "=", "outbound"),
                ("external_id", "=", key),
            ],
            limit=1,
        ):
            return Message
        flow = backend._mfg_flow(etype)
        if not flow or flow.direction != "outbound":
            raise MfgPermanentError(
                self.env._(
                    "Backend %(backend)s acknowledges B2MML Process documents, but has no active outbound "
                    "flow %(type)s: add it (its transport and wire format say how acknowledgements are "
                    "sent) or clear 'Acknowledge Process documents', then Retry document %(doc)s.",
                    backend=backend.code,
                    type=ACK_TYPE,
                    doc=message.display_name,
                )
            )
        Outbox = self.env["mfg.outbox"]
        payload = Outbox._mfg_envelope("ack", correlation_id=message.correlation_id or None)
        payload.update(
            {
                "original_bod_id": info["bod_id"],
                "original_created_at": info["created_at"] or payload["sent_at"],
                "document": info["document"],
                "noun": info["noun"],
                "noun_ids": info["noun_ids"],
                "namespace": info["namespace"],
                "response_code": "Rejected" if reason else "Accepted",
            }
        )
        if reason:
            payload["reason"] = str(reason)[:10000]
        else:
            payload["facts"] = facts or 0
        ack = Outbox._mfg_put(backend, ACK_TYPE, payload, correlation_id=payload.get("correlation_id"))
        ack.write({"external_id": key})
        return ack

    @api.model
    def _mfg_acknowledge_rejection(self, message):
        """After ``message`` (a B2MML document) was rejected: queue its Rejected acknowledgement
        when it is a readable Process document. Returns a note for the rejection's error text
        when none could be sent although the backend asks for them, else None."""
        backend = message.backend_id
        raw = document.raw_bytes(message)
        try:
            root = xml_safe.parse(raw, backend._mfg_b2mml_mapping()["max_document_bytes"])
        except MfgError:
            return None  # not readable XML: not known to be a Process document, nobody to answer
        info = b2mml.process_document(root)
        if not info:
            return None
        key = document.document_key(message, info["bod_id"])
        try:
            with self.env.cr.savepoint():
                self._mfg_acknowledge(message, info, key, reason=message.error_message)
        except MfgPermanentError as exc:
            return self.env._("No acknowledgement was sent: %(why)s", why=exc)
        return None

    @api.model
    def _mfg_encode(self, message, payload):
        """The canonical ``payload`` of an outbound message as a B2MML document: the backend's
        verb and namespace; checked against the V0700 XSD when the backend asks for it."""
        backend = message.backend_id.sudo()
        code = message.exchange_type_id.code
        try:
            body = b2mml_out.encode(code, payload, namespace=backend.b2mml_namespace, verb=backend.b2mml_verb)
        except b2mml_out.EncodeError as exc:
            raise MfgPermanentError(
                self.env._(
                    "Message %(message)s cannot be sent as B2MML to backend %(backend)s: %(error)s.",
                    message=message.display_name,
                    backend=backend.code,
                    error=exc,
                )
            ) from exc
        if backend.b2mml_validate_outbound:
            self._mfg_validate_outbound(message, backend, body)
        return body, b2mml_out.CONTENT_TYPE

    @api.model
    def _mfg_validate_outbound(self, message, backend, body):
        try:
            problems = b2mml_xsd.errors(body)
        except b2mml_xsd.SchemaMissing as exc:
            raise MfgPermanentError(
                self.env._(
                    "Backend %(backend)s validates outbound B2MML, but %(error)s: clear 'Validate outbound "
                    "B2MML against the XSD' or use the V0700 namespace.",
                    backend=backend.code,
                    error=exc,
                )
            ) from exc
        if problems:
            raise MfgPermanentError(
                self.env._(
                    "The B2MML document of %(message)s is not valid against the V0700 XSD, nothing was "
                    "sent: %(errors)s",
                    message=message.display_name,
                    errors="; ".join(problems[:5]),
                )
            )
