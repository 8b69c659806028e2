from odoo import api, models

from odoo.addons.mfg_integration_base.exceptions import MfgPermanentError
from odoo.addons.mfg_integration_base.pipeline import document

from ..lib import b2mml, b2mml_out, b2mml_xsd, xml_safe


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
        mapping = message.backend_id._mfg_b2mml_mapping()
        root = self._mfg_root(document.raw_bytes(message), mapping["max_document_bytes"])
        return b2mml.decode(root, mapping, message.received_at)

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
