from odoo import api, models

from odoo.addons.mfg_integration_base.pipeline import document

from ..lib import b2mml, xml_safe


class MfgWireB2mml(models.AbstractModel):
    """B2MML XML (ISA-95), V0401 to V0700: production performance → consumption, completion and
    scrap facts; material information / lots → lot hold and release; material definitions →
    item master facts (``lib/b2mml.py``, parsed by ``lib/xml_safe.py``)."""

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
