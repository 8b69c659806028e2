from odoo import api, fields, models

from ..exceptions import MfgMappingError

# kind -> (label, model, Odoo field used when the backend falls back to Odoo's own codes)
MAPPING_KINDS = {
    "product": ("Product", "product.product", "default_code"),
    "uom": ("Unit of measure", "uom.uom", "name"),
    "workcenter": ("Work center", "mrp.workcenter", "code"),
    "location": ("Location", "stock.location", "barcode"),
    "warehouse": ("Warehouse", "stock.warehouse", "code"),
    "lot": ("Lot/serial", "stock.lot", "name"),
    "loss_reason": ("Downtime reason", "mrp.workcenter.productivity.loss", "name"),
    "partner": ("Partner", "res.partner", "ref"),
    "defect": ("Defect", None, None),
    "other": ("Other value", None, None),
}


class MfgCodeMapping(models.Model):
    """Per backend: a plant's code of some kind → an Odoo record (or a plain value)."""

    _name = "mfg.code.mapping"
    _description = "Integration Code Mapping"
    _order = "backend_id, kind, external_code"
    _rec_name = "external_code"

    backend_id = fields.Many2one("mfg.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    kind = fields.Selection(selection="_selection_kind", required=True, index=True)
    external_code = fields.Char(string="Plant code", required=True, index=True)
    target = fields.Reference(selection="_selection_target", string="Odoo record")
    value = fields.Char(help="For kinds without an Odoo record (defect codes...): the canonical value.")
    note = fields.Char()
    active = fields.Boolean(default=True)

    _sql_constraints = [
        (
            "backend_kind_code_uniq",
            "unique(backend_id, kind, external_code)",
            "A plant code is mapped once per backend and kind.",
        ),
    ]

    @api.model
    def _mfg_kinds(self):
        """Extension point: {kind: (label, model or None, fallback field or None)}."""
        return dict(MAPPING_KINDS)

    @api.model
    def _selection_kind(self):
        return [(k, v[0]) for k, v in self._mfg_kinds().items()]

    @api.model
    def _selection_target(self):
        models_ = {v[1] for v in self._mfg_kinds().values() if v[1]}
        return [(m, self.env[m]._description) for m in sorted(models_) if m in self.env]

    @api.depends("kind", "external_code", "target", "value")
    def _compute_display_name(self):
        for rec in self:
            to = rec.target.display_name if rec.target else rec.value or "?"
            rec.display_name = f"{rec.kind}:{rec.external_code} → {to}"

    @api.onchange("kind")
    def _onchange_kind(self):
        model = self._mfg_kinds().get(self.kind, (None, None))[1]
        if self.target and self.target._name != model:
            self.target = False

    # ------------------------------------------------------------------ resolvers (the only ones)
    @api.model
    def _mfg_resolve(self, backend, kind, code, required=True, product=None, path=None):
        """The Odoo record (or value) a plant ``code`` of ``kind`` stands for, for ``backend``.

        Looks in the backend's code mappings, then, if the backend falls back to Odoo codes,
        in Odoo itself. Kind 'lot' with a ``product``: the lot of that product — a 'lot' code
        mapping to a lot of that product, else the lot named ``code`` of that product in the
        backend's company (lot numbers are the plant's and Odoo's alike, whatever the fallback).

        Raises MfgMappingError ("Unknown product code 'X' for backend 'Y'", with the JSON
        pointer ``path`` of the value if given) when nothing matches and ``required``; returns
        None otherwise.
        """
        backend.ensure_one()
        label, model, fallback_field = self._mfg_kinds().get(kind, (kind, None, None))
        code = "" if code is None else str(code).strip()
        # Within one drain batch, found codes are remembered (a batch resolves the same product
        # hundreds of times); misses are not, so a mapping added meanwhile counts. Look-ups
        # scoped to a product (lots) are not: handlers create lots, and a message whose
        # savepoint is rolled back would leave the id of a lot that no longer exists.
        cache = self.env.cr.cache.get("mfg_resolve")
        if cache is None or product:
            cache = {}
        key = (backend.id, kind, code)
        hit = cache.get(key)
        if hit is not None:
            return self.env[hit[0]].browse(hit[1]) if isinstance(hit, tuple) else hit
        found = self._mfg_resolve_uncached(backend, kind, code, model, fallback_field, product=product)
        if found is not None:
            cache[key] = (found._name, found.id) if isinstance(found, models.BaseModel) else found
            return found
        if not required:
            return None
        if product:
            text = self.env._(
                "Unknown %(kind)s code '%(code)s' of product %(product)s for backend '%(backend)s': "
                "check the code, create it in Odoo or add a code mapping (Integration > Configuration > "
                "Code mappings), then retry the message.",
                kind=label.lower(),
                code=code,
                product=product.display_name,
                backend=backend.code,
            )
        else:
            text = self.env._(
                "Unknown %(kind)s code '%(code)s' for backend '%(backend)s': add a code mapping "
                "(Integration > Configuration > Code mappings), then retry the message.",
                kind=label.lower(),
                code=code,
                backend=backend.code,
            )
        raise MfgMappingError(text, kind=kind, code=code, path=path)

    @api.model
    def _mfg_resolve_uncached(self, backend, kind, code, model, fallback_field, product=None):
        if not code:
            return None
        mapping = self.search(
            [("backend_id", "=", backend.id), ("kind", "=", kind), ("external_code", "=", code)], limit=1
        )
        if product:
            # Scoped to a product: only a record of that product counts, and the code is looked
            # up by its Odoo code whatever the backend's fallback.
            Model = self.env[model] if model else None
            if Model is None or "product_id" not in Model._fields or not fallback_field:
                raise ValueError(f"code mapping kind {kind!r} cannot be scoped to a product")
            target = mapping.target
            if target and target._name == model and target.product_id == product:
                return target
            domain = [(fallback_field, "=", code), ("product_id", "=", product.id)]
            if "company_id" in Model._fields:
                domain += [("company_id", "in", [False, backend.company_id.id])]
            return Model.search(domain, limit=1) or None
        if mapping:
            if mapping.target:
                return mapping.target
            if mapping.value:
                return mapping.value
        if backend.use_odoo_codes and model and fallback_field:
            Model = self.env[model]
            domain = [(fallback_field, "=", code)]
            if "company_id" in Model._fields:
                domain += [("company_id", "in", [False, backend.company_id.id])]
            found = Model.search(domain, limit=2)
            if len(found) == 1:
                return found
        return None

    @api.model
    def _mfg_code_for(self, backend, kind, record, default=None):
        """The other way round: the plant's code of an Odoo ``record`` for ``backend`` (for
        outbound payloads): its code mapping of ``kind`` if there is one, else ``default``
        (usually the Odoo code)."""
        backend.ensure_one()
        mapping = self.sudo().search(
            [
                ("backend_id", "=", backend.id),
                ("kind", "=", kind),
                ("target", "=", f"{record._name},{record.id}"),
            ],
            limit=1,
        )
        return mapping.external_code if mapping else default

    @api.model
    def _mfg_has_mapping(self, backend, kind, code):
        """Whether ``backend`` maps the plant ``code`` of ``kind`` (else it resolves, if at all,
        by the Odoo code)."""
        return bool(
            self.sudo().search_count(
                [("backend_id", "=", backend.id), ("kind", "=", kind), ("external_code", "=", code)], limit=1
            )
        )

    @api.model
    def _mfg_code_table(self, backend):
        """{(kind, 'model,id'): plant code} of every mapping of ``backend`` to an Odoo record:
        ``_mfg_code_for`` for a whole export, read once."""
        mappings = self.search([("backend_id", "=", backend.id), ("target", "!=", False)])
        return {(m.kind, f"{m.target._name},{m.target.id}"): m.external_code for m in mappings}

    @api.model
    def _mfg_value_table(self, backend):
        """{(kind, plant code): canonical text} of every mapping of ``backend``: the mapping's
        value, else the mapped record's Odoo code (the field its kind falls back to), else its
        name. For readers that translate many values outside this transaction (flat files)."""
        kinds = self._mfg_kinds()
        table = {}
        for mapping in self.search([("backend_id", "=", backend.id)]):
            if mapping.value:
                table[(mapping.kind, mapping.external_code)] = mapping.value
            elif mapping.target:
                fallback = kinds.get(mapping.kind, (None, None, None))[2]
                value = mapping.target[fallback] if fallback else mapping.target.display_name
                table[(mapping.kind, mapping.external_code)] = str(value or mapping.target.display_name)
        return table
