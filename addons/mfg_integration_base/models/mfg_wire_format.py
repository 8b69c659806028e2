from odoo import api, models

from ..exceptions import MfgPermanentError

PREFIX = "mfg.wire."
JSON = "json"  # the default wire format: the payload is the canonical JSON contract itself


class MfgWireFormat(models.AbstractModel):
    """The interface of a wire format (an adapter between what a plant system sends and our
    canonical contracts): one model ``mfg.wire.<code>`` per format, its code added to
    ``mfg.backend.flow.wire_format`` with ``selection_add``. The JSON contract is no model:
    it is the payload itself (the default of every flow).

    A message received on a flow whose wire format is not JSON is a *document*: its raw
    payload is stored as received (receive step), then the drain hands it to the wire format,
    which decodes it into canonical facts; each fact is stored as a child message of the
    document (``pipeline/document.py``) and goes through validate → map → apply → log like any
    message.

    ``_mfg_check(backend, raw)``     optional quick check at receive time (REST answers 422 at
                                     once); raises ``MfgValidationError``.
    ``_mfg_decode(message)``         → ``(document_key, facts)``: ``document_key`` names the
                                     document (its own id, else a hash of its bytes); ``facts``
                                     a list of ``(exchange type code, payload dict)`` in
                                     document order. ``MfgValidationError``: the document is
                                     rejected; ``MfgPermanentError`` / ``MfgMappingError``: failed.
    ``_mfg_content_types()``         media types the REST ingest accepts for this format.
    ``_mfg_openapi_description()``   what such a request body is (OpenAPI document).

    Outbound (a flow of direction outbound with this wire format): the message keeps its
    canonical JSON payload; at send time every transport asks ``mfg.message._mfg_wire_body()``
    for the bytes to send, which calls

    ``_mfg_encode(message, payload)`` → ``(bytes, content type)``: ``payload`` the canonical
                                     dict. ``MfgPermanentError``: this format cannot carry the
                                     message (failed, with the reason). What was sent is kept
                                     on the message (``wire_payload``).
    """

    _name = "mfg.wire.format"
    _description = "Integration Wire Format"

    @api.model
    def _mfg_code(self):
        return self._name.removeprefix(PREFIX)

    @api.model
    def _mfg_content_types(self):
        return ()

    @api.model
    def _mfg_openapi_description(self):
        """What a request body in this format is, for the OpenAPI document of the REST ingest."""
        return self.env._(
            "A document in wire format %(code)s, stored as received and decoded into canonical facts.",
            code=self._mfg_code(),
        )

    @api.model
    def _mfg_check(self, backend, raw):
        """Nothing checked by default: the drain decodes."""
        return None

    @api.model
    def _mfg_decode(self, message):
        raise MfgPermanentError(
            self.env._(
                "Wire format %(code)s cannot decode message %(message)s.",
                code=self._mfg_code(),
                message=message.display_name,
            )
        )

    @api.model
    def _mfg_encode(self, message, payload):
        raise MfgPermanentError(
            self.env._(
                "Wire format %(code)s cannot send %(type)s (message %(message)s): set the flow's wire "
                "format to JSON contract.",
                code=self._mfg_code(),
                type=message.exchange_type_id.contract,
                message=message.display_name,
            )
        )

    @api.model
    def _mfg_wire(self, code):
        """The model of wire format ``code`` (None for the JSON contract); a clear error when
        the addon providing it is not installed."""
        if not code or code == JSON:
            return None
        name = PREFIX + code
        if name not in self.env:
            raise MfgPermanentError(
                self.env._(
                    "Wire format %(code)r is not installed (no model %(model)s): install its addon "
                    "or set the flow's wire format back to JSON.",
                    code=code,
                    model=name,
                )
            )
        return self.env[name]
