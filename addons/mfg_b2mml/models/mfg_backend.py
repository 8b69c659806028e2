import json

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..lib import b2mml, b2mml_out


class MfgBackend(models.Model):
    _inherit = "mfg.backend"

    b2mml_mapping = fields.Text(
        string="B2MML mapping",
        help="JSON object: what this plant's B2MML values mean, merged over the defaults "
        "(see the addon's CONFIGURE): material_use (MaterialUse → consumption / completion / "
        "scrap / ignore), properties (our meaning → the vendor's property IDs: final, "
        "scrap_reason, hold_reason), lot_status (Status → hold / release / ignore), "
        "final_states, item_policy (match or create), max_document_bytes. Empty: the defaults.",
    )
    b2mml_verb = fields.Selection(
        [("Sync", "Sync"), ("Process", "Process")],
        string="B2MML verb (outbound)",
        default="Sync",
        required=True,
        help="Outbound B2MML documents are <Verb><Noun>: Sync (the MES mirrors our data) or "
        "Process (the MES is asked to act on it), as the MES expects.",
    )
    b2mml_namespace = fields.Char(
        string="B2MML namespace (outbound)",
        default=b2mml_out.V0700,
        required=True,
        help="XML namespace of the outbound documents (their structure is V0700's). Default the "
        "V0700 namespace http://www.mesa.org/xml/B2MML; an MES that wants a vendor namespace "
        "can be given it here (XSD validation then has no schema to check against).",
    )
    b2mml_validate_outbound = fields.Boolean(
        string="Validate outbound B2MML against the XSD",
        help="Check every outbound B2MML document against the shipped V0700 XML Schema before "
        "sending it; an invalid one fails with the schema's errors, nothing is sent.",
    )
    b2mml_validate_inbound = fields.Boolean(
        string="Validate inbound B2MML against the XSD",
        help="Check every inbound B2MML document against the XML Schema of the version its namespace "
        "names before reading it (schemas ship for V0700 only). An invalid document is rejected "
        "with the line, the element and the schema's message; a document of a version whose schema "
        "does not ship fails saying so (clear this option for such a plant, then Retry).",
    )
    b2mml_acknowledge = fields.Boolean(
        string="Acknowledge Process documents",
        help="Answer every inbound B2MML Process<Noun> document (e.g. ProcessOperationsPerformance) "
        "with an Acknowledge<Noun> in the document's own version: Accepted once its facts are "
        "stored, Rejected with the reason when it cannot be read. Sent through the outbox on this "
        "backend's outbound flow 'B2MML acknowledgement' (b2mml.acknowledge), which must exist: "
        "its transport and wire format say how. A document that fails (e.g. a missing code "
        "mapping) is acknowledged once it is retried and read, or rejected.",
    )
    b2mml_mapping_default = fields.Text(
        string="B2MML mapping (defaults)", compute="_compute_b2mml_mapping_default"
    )

    def _compute_b2mml_mapping_default(self):
        text = json.dumps(b2mml.DEFAULT_MAPPING, indent=2)
        for rec in self:
            rec.b2mml_mapping_default = text

    @api.constrains("b2mml_mapping")
    def _check_b2mml_mapping(self):
        for rec in self.filtered("b2mml_mapping"):
            try:
                custom = json.loads(rec.b2mml_mapping)
            except ValueError as exc:
                raise ValidationError(
                    self.env._("Backend %(b)s: the B2MML mapping is not JSON (%(e)s).", b=rec.code, e=exc)
                ) from exc
            problem = b2mml.mapping_problem(custom)
            if problem:
                raise ValidationError(self.env._("Backend %(b)s: %(problem)s", b=rec.code, problem=problem))

    def _mfg_b2mml_mapping(self):
        """This backend's B2MML mapping merged over the defaults."""
        self.ensure_one()
        return b2mml.merged_mapping(json.loads(self.b2mml_mapping) if self.b2mml_mapping else {})
