import json
import re

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..exceptions import MfgPermanentError
from ..lib import contract, schema_compat
from .mfg_handler_mixin import (
    HANDLER_MIXIN,
    HANDLER_PREFIX,
    batch_method_name,
    handler_methods,
    handler_models,
    is_handler_method,
    is_handler_model,
)

CODE_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class MfgExchangeType(models.Model):
    """An exchange type: one kind of message, in one direction.

    It carries its *contract* (code, version, JSON Schema: what the systems that use it may send
    or receive) and how its messages are applied (handler), ordered, retried and watched. A
    backend may use it only through a *flow* (``mfg.backend.flow``). See the glossary in
    docs/ARCHITECTURE.md."""

    _name = "mfg.exchange.type"
    _description = "Integration Exchange Type"
    _inherit = ["mail.thread"]
    _order = "code, version desc"
    _rec_names_search = ["name", "code"]

    name = fields.Char(required=True, translate=True, tracking=True)
    code = fields.Char(
        required=True,
        tracking=True,
        help="Code of the contract, <domain>.<object>, e.g. mes.material_consumption. "
        "Used in REST URLs and MQTT topics.",
    )
    version = fields.Integer(default=1, required=True, tracking=True)
    contract = fields.Char(
        compute="_compute_contract",
        store=True,
        help="Name of the contract: <code>.v<version>. The contract is the code, the version and the "
        "JSON Schema; a change of the schema that breaks its users needs a new version.",
    )
    active = fields.Boolean(default=True, tracking=True)
    direction = fields.Selection(
        [("inbound", "Inbound (plant system → Odoo)"), ("outbound", "Outbound (Odoo → plant system)")],
        required=True,
        default="inbound",
        tracking=True,
    )
    description = fields.Text(translate=True)
    json_schema = fields.Text(
        string="JSON Schema",
        tracking=True,
        help="JSON Schema (Draft 2020-12) every payload of this type must match. "
        "Empty: any JSON object is accepted.",
    )
    handler_model = fields.Selection(
        selection="_selection_handler_model",
        help="Model whose handler method applies an inbound message. Only models that inherit "
        "mfg.handler.mixin are offered (handlers run as superuser).",
        tracking=True,
    )
    handler_method = fields.Char(
        help="Method called as handler_model.method(message, payload); it updates Odoo and "
        "returns the records it created or changed. Its name starts with _mfg_handle_.",
        tracking=True,
    )
    handler_methods_available = fields.Char(
        string="Handler methods",
        compute="_compute_handler_methods_available",
        help="The _mfg_handle_ methods of the handler model: the only ones an exchange type may call.",
    )
    ordering_key_pointer = fields.Char(
        string="Ordering key",
        tracking=True,
        help="JSON pointer into the payload (e.g. /work_order), or several separated by commas "
        "(e.g. /lot, /product) for a key made of several values. Messages of one backend that "
        "share the key are applied in order of arrival; a failed one holds the later ones "
        "of its key, and only those.",
    )
    external_id_pointer = fields.Char(
        string="Message id pointer",
        default="/message_id",
        tracking=True,
        help="JSON pointer of the sender's message id in the payload, used for idempotency when "
        "the transport gives none (HTTP header Idempotency-Key / X-Message-Id wins).",
    )
    correlation_id_pointer = fields.Char(
        string="Correlation id pointer", default="/correlation_id", tracking=True
    )
    max_attempts = fields.Integer(default=5, tracking=True, help="Attempts before a message is dead.")
    retry_delay = fields.Integer(
        string="First retry delay (s)", default=30, tracking=True, help="Delay before the second attempt."
    )
    retry_backoff = fields.Float(string="Backoff factor", default=2.0, tracking=True)
    retry_jitter = fields.Float(string="Jitter", default=0.2, tracking=True, help="Fraction, 0.2 = ±20 %.")
    retry_max_delay = fields.Integer(string="Max retry delay (s)", default=3600, tracking=True)
    sync_class = fields.Selection(
        [("realtime", "Real time"), ("batch", "Batch (scheduled)")],
        default="realtime",
        required=True,
        tracking=True,
        help="Real time: a drain job starts as soon as messages arrive. Batch: messages wait for "
        "the scheduled drain (Integration: drain due and batch messages).",
    )
    channel = fields.Char(
        string="Job channel",
        default="root.mfg",
        required=True,
        tracking=True,
        help="queue_job channel of the drain jobs.",
    )
    sla_minutes = fields.Integer(
        string="SLA (minutes)", default=15, tracking=True, help="A message pending longer than this is late."
    )
    retention_days = fields.Integer(
        default=30,
        tracking=True,
        help="Done messages older than this are deleted by the retention cron (0 = keep).",
    )
    message_count = fields.Integer(compute="_compute_message_count")

    _sql_constraints = [
        ("code_version_uniq", "unique(code, version)", "An exchange type code and version must be unique."),
    ]

    @api.depends("code", "version")
    def _compute_contract(self):
        for rec in self:
            rec.contract = f"{rec.code}.v{rec.version}" if rec.code else False

    @api.depends("contract", "name")
    def _compute_display_name(self):
        for rec in self:
            rec.display_name = f"{rec.name} ({rec.contract})" if rec.contract else rec.name

    @api.model
    def _selection_handler_model(self):
        return [(name, f"{self.env[name]._description} ({name})") for name in handler_models(self.env)]

    @api.depends("handler_model")
    def _compute_handler_methods_available(self):
        for rec in self:
            rec.handler_methods_available = ", ".join(handler_methods(self.env, rec.handler_model)) or False

    def _compute_message_count(self):
        groups = self.env["mfg.message"]._read_group(
            [("exchange_type_id", "in", self.ids)], ["exchange_type_id"], ["__count"]
        )
        counts = {t.id: c for t, c in groups}
        for rec in self:
            rec.message_count = counts.get(rec.id, 0)

    def write(self, vals):
        if "json_schema" in vals and not self.env.context.get("mfg_contract_force"):
            self._mfg_check_compatible(vals["json_schema"], vals.get("version"))
        return super().write(vals)

    def _mfg_check_compatible(self, new_schema_text, new_version=None):
        """Refuse a JSON Schema change that breaks the contract's users unless the version goes up.

        (Context ``mfg_contract_force``: a migration that knows what it does.)"""
        for rec in self:
            if not rec.json_schema or not new_schema_text or rec.json_schema == new_schema_text:
                continue
            version = rec.version if new_version is None else int(new_version)
            if version > rec.version:
                continue
            try:
                old, new = json.loads(rec.json_schema), contract.check_schema(new_schema_text)
            except ValueError:
                continue  # an invalid schema is refused by _check_json_schema, with its own words
            breaking = schema_compat.breaking_changes(old, new)
            if breaking:
                raise ValidationError(
                    self.env._(
                        "Contract %(contract)s: this JSON Schema change breaks the systems that use it "
                        "(%(changes)s). Raise the version (e.g. to %(next)s) or create a new exchange type "
                        "for the new version; adding optional fields needs no new version.",
                        contract=rec.contract,
                        changes="; ".join(f"field '{where}': {why}" for where, why in breaking),
                        next=rec.version + 1,
                    )
                )

    @api.constrains("code")
    def _check_code(self):
        for rec in self:
            if not CODE_RE.match(rec.code or ""):
                raise ValidationError(
                    self.env._(
                        "Exchange type code %(code)r is not valid: use lower-case words separated by "
                        "dots, like mes.material_consumption.",
                        code=rec.code,
                    )
                )

    @api.constrains("json_schema")
    def _check_json_schema(self):
        for rec in self.filtered("json_schema"):
            try:
                contract.check_schema(rec.json_schema)
            except ValueError as exc:
                raise ValidationError(
                    self.env._("Exchange type %(code)s: %(error)s", code=rec.code, error=exc)
                ) from exc

    @api.constrains("ordering_key_pointer", "external_id_pointer", "correlation_id_pointer")
    def _check_pointers(self):
        for rec in self:
            for fname in ("ordering_key_pointer", "external_id_pointer", "correlation_id_pointer"):
                if not contract.valid_pointer(rec[fname]):
                    raise ValidationError(
                        self.env._(
                            "%(field)s %(value)r is not a JSON pointer: each pointer must start with '/', "
                            "like /work_order (several: /lot, /product).",
                            field=rec._fields[fname].string,
                            value=rec[fname],
                        )
                    )

    @api.constrains("handler_model", "handler_method", "direction")
    def _check_handler(self):
        for rec in self:
            if not rec.handler_model and not rec.handler_method:
                continue
            problem = rec._mfg_handler_problem()
            if problem:
                raise ValidationError(problem)

    def _mfg_handler_problem(self):
        """Why this type's handler may not be called (a sentence for the user), or False.

        A handler is a ``_mfg_handle_*`` method of a model inheriting ``mfg.handler.mixin``:
        it runs as superuser, so nothing else may be named (see ``mfg_handler_mixin``)."""
        self.ensure_one()
        model, method = self.handler_model, self.handler_method
        if not model and not method:
            return self.env._(
                "Exchange type %(type)s has no handler: set its handler model and method.",
                type=self.contract,
            )
        if not model:
            return self.env._(
                "Exchange type %(type)s: handler method %(method)r has no handler model: choose one of "
                "%(models)s.",
                type=self.contract,
                method=method,
                models=", ".join(handler_models(self.env)),
            )
        if not is_handler_model(self.env, model):
            return self.env._(
                "Exchange type %(type)s: handler model %(model)r is not a handler model. Choose one of "
                "%(models)s; a developer makes a model one by inheriting %(mixin)s.",
                type=self.contract,
                model=model,
                models=", ".join(handler_models(self.env)),
                mixin=HANDLER_MIXIN,
            )
        if not is_handler_method(self.env, model, method):
            return self.env._(
                "Exchange type %(type)s: handler method %(method)r is not a handler method of %(model)s. "
                "A handler method is named %(prefix)s<what>; this model has: %(methods)s.",
                type=self.contract,
                method=method or "",
                model=model,
                prefix=HANDLER_PREFIX,
                methods=", ".join(handler_methods(self.env, model)) or "-",
            )
        return False

    def _mfg_handler(self, **context):
        """The handler to call as ``handler(message, data)``, with ``context`` added.

        Checked again at every call (the stored values may have been changed behind the ORM's
        back): anything but a registered handler is a permanent error, and is never looked up."""
        self.ensure_one()
        problem = self._mfg_handler_problem()
        if problem:
            raise MfgPermanentError(problem)
        return getattr(self.env[self.handler_model].with_context(**context), self.handler_method)

    def _mfg_batch_handler(self):
        """The batch variant of this type's handler (``_mfg_batch_<what>`` next to
        ``_mfg_handle_<what>``, see ``mfg_handler_mixin.batch_method_name``), or None: then its
        messages are applied one at a time. None too when the handler may not be called (the
        one-at-a-time path then records why)."""
        self.ensure_one()
        if self._mfg_handler_problem():
            return None
        method = getattr(self.env[self.handler_model], batch_method_name(self.handler_method), None)
        return method if callable(method) else None

    @api.constrains("max_attempts", "retry_delay", "retry_backoff", "retry_jitter")
    def _check_retry_policy(self):
        for rec in self:
            if rec.max_attempts < 1:
                raise ValidationError(self.env._("Max attempts must be at least 1."))
            if rec.retry_delay < 0 or rec.retry_backoff < 1 or not 0 <= rec.retry_jitter < 1:
                raise ValidationError(
                    self.env._(
                        "Retry policy of %(code)s: the first delay must be ≥ 0, the backoff factor ≥ 1 "
                        "and the jitter between 0 and 1.",
                        code=rec.code,
                    )
                )

    def _schema_pretty(self):
        self.ensure_one()
        return json.dumps(json.loads(self.json_schema), indent=2) if self.json_schema else ""

    @api.model
    def _find(self, code):
        """The active exchange type named ``code`` (``code`` or ``code.vN``): latest version."""
        match = re.match(r"^(.*)\.v(\d+)$", code or "")
        if match:
            return self.search(
                [("code", "=", match.group(1)), ("version", "=", int(match.group(2)))], limit=1
            )
        return self.search([("code", "=", code)], order="version desc", limit=1)

    # ------------------------------------------------------------------ published contracts
    @api.model
    def _mfg_openapi_contracts(self):
        """The contracts published in the OpenAPI document: the active inbound exchange types."""
        unroutable = self.env.ref("mfg_integration_base.exchange_type_unroutable", raise_if_not_found=False)
        types = self.search([("direction", "=", "inbound"), ("active", "=", True)])
        return [
            {
                "contract": t.contract,
                "code": t.code,
                "version": t.version,
                "name": t.name,
                "description": t.description or "",
                "schema": json.loads(t.json_schema) if t.json_schema else None,
                **t._mfg_openapi_wire_formats(),
            }
            for t in types
            if t != unroutable
        ]

    def _mfg_openapi_wire_formats(self):
        """What the REST ingest of this inbound type takes, from its active flows' wire formats:
        ``{"json": bool, "wire_formats": [{"code", "name", "content_types", "description"}]}``.
        JSON unless every active flow of the type takes another format; each other format with
        the media types and the body description its model gives (``mfg.wire.<code>``)."""
        self.ensure_one()
        flows = (
            self.env["mfg.backend.flow"]
            .sudo()
            .search(
                [("exchange_type_id", "=", self.id), ("active", "=", True), ("backend_id.active", "=", True)]
            )
        )
        codes = set(flows.mapped("wire_format")) - {False, None}
        labels = dict(self.env["mfg.backend.flow"]._fields["wire_format"]._description_selection(self.env))
        Wire = self.env["mfg.wire.format"]
        formats = []
        for code in sorted(codes - {"json"}):
            if f"mfg.wire.{code}" not in self.env:
                continue  # its addon was uninstalled: the ingest answers with the reason
            wire = Wire._mfg_wire(code)
            formats.append(
                {
                    "code": code,
                    "name": labels.get(code, code),
                    "content_types": list(wire._mfg_content_types()),
                    "description": wire._mfg_openapi_description(),
                }
            )
        return {"json": not codes or "json" in codes or not formats, "wire_formats": formats}

    @api.model
    def _mfg_openapi_document(self, server_url=""):
        """OpenAPI 3.1 document of the REST API. Extension point: connectors add their own paths
        (e.g. a query API) by overriding this and updating the returned dict."""
        from ..lib import openapi

        return openapi.build_document(self._mfg_openapi_contracts(), server_url=server_url)

    def action_view_messages(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("mfg_integration_base.action_mfg_message")
        action["domain"] = [("exchange_type_id", "=", self.id)]
        action["context"] = {}
        return action
