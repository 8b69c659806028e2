from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

EXPORT_TYPES = {
    "item_master": "legacy.item_master",
    "bom": "legacy.bom",
    "stock_levels": "legacy.stock_levels",
}


class MfgFlatfileExport(models.Model):
    """A scheduled export for a legacy system: item master, BOMs or stock levels, written in
    the system's own format to the backend's outbox folder through the outbox pipeline."""

    _name = "mfg.flatfile.export"
    _description = "Flat-file Export"
    _inherit = ["mail.thread"]
    _order = "backend_id, name"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    backend_id = fields.Many2one("mfg.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    kind = fields.Selection(
        [("item_master", "Item master"), ("bom", "Bills of materials"), ("stock_levels", "Stock levels")],
        required=True,
        default="item_master",
    )
    format_id = fields.Many2one(
        "mfg.flatfile.format", required=True, domain=[("direction", "=", "outbound")], string="File format"
    )
    delta_only = fields.Boolean(
        string="Only changes",
        help="Only the records changed since the last export (the legacy system wants deltas).",
    )
    skip_empty = fields.Boolean(string="No file when nothing changed", default=True)
    interval_minutes = fields.Integer(string="Every (minutes)", default=1440, required=True)
    next_run_at = fields.Datetime(default=fields.Datetime.now, required=True)
    last_run_at = fields.Datetime(readonly=True, help="Changes up to this moment are exported.")
    last_message_id = fields.Many2one("mfg.message", readonly=True)
    last_count = fields.Integer(string="Records last time", readonly=True)

    @api.constrains("interval_minutes")
    def _check_interval(self):
        for export in self:
            if export.interval_minutes < 1:
                raise UserError(
                    self.env._("Export %(e)s: the interval is at least one minute.", e=export.name)
                )

    @api.model
    def _cron_mfg_flatfile_export(self):
        for export in self.search([("next_run_at", "<=", fields.Datetime.now())]):
            export._mfg_run()

    def action_run_now(self):
        for export in self:
            export._mfg_run()
        return True

    def _mfg_run(self):
        """Collect the records, queue one outbound message (its transport writes the file)."""
        self.ensure_one()
        start = fields.Datetime.now()
        since = self.last_run_at if self.delta_only else None
        self = self.with_context(mfg_export_codes=self._mfg_code_map())
        records = getattr(self, f"_mfg_records_{self.kind}")(since)
        message = self.env["mfg.message"]
        if records or not self.skip_empty:
            filename = start.strftime(self.format_id.filename_pattern or f"{self.kind}_%Y%m%d_%H%M%S.txt")
            message = self.env["mfg.outbox"]._mfg_put(
                self.backend_id,
                EXPORT_TYPES[self.kind],
                {"format": self.format_id.code, "filename": filename, "kind": self.kind, "records": records},
                ordering_key=f"export:{self.id}",
                correlation_id=filename,
            )
        self.write(
            {
                "last_run_at": start,
                "next_run_at": start + timedelta(minutes=self.interval_minutes),
                "last_count": len(records),
                "last_message_id": message.id or self.last_message_id.id,
            }
        )
        return message

    # ------------------------------------------------------------------ record builders
    def _mfg_code_map(self):
        """{(kind, 'model,id'): plant code} of the backend's mappings, read once per export."""
        return self.env["mfg.code.mapping"].sudo()._mfg_code_table(self.backend_id)

    def _mfg_code(self, kind, record, default):
        codes = self.env.context.get("mfg_export_codes")
        if codes is None:
            return self.backend_id._mfg_code_for(kind, record, default)
        return codes.get((kind, f"{record._name},{record.id}"), default)

    def _mfg_records_item_master(self, since):
        domain = [("company_id", "in", [self.company_id.id, False]), ("type", "=", "consu")]
        if since:
            domain += ["|", ("write_date", ">", since), ("product_tmpl_id.write_date", ">", since)]
        products = (
            self.env["product.product"]
            .with_context(active_test=not since)
            .search(domain, order="default_code, id")
        )
        return [
            {
                "code": self._mfg_code("product", p, p.default_code or str(p.id)),
                "name": p.name,
                "uom": self._mfg_code("uom", p.uom_id, p.uom_id.name),
                "tracking": p.tracking,
                "barcode": p.barcode or "",
                "weight": p.weight,
                "active": p.active,
            }
            for p in products
        ]

    def _mfg_records_bom(self, since):
        domain = [("company_id", "in", [self.company_id.id, False])]
        if since:
            domain += ["|", ("write_date", ">", since), ("bom_line_ids.write_date", ">", since)]
        records = []
        for bom in self.env["mrp.bom"].search(domain, order="id"):
            parent = bom.product_id or bom.product_tmpl_id.product_variant_id
            for line in bom.bom_line_ids:
                records.append(
                    {
                        "product": self._mfg_code("product", parent, parent.default_code or str(parent.id)),
                        "bom": bom.code or str(bom.id),
                        "bom_quantity": bom.product_qty,
                        "bom_uom": self._mfg_code("uom", bom.product_uom_id, bom.product_uom_id.name),
                        "sequence": line.sequence,
                        "component": self._mfg_code(
                            "product",
                            line.product_id,
                            line.product_id.default_code or str(line.product_id.id),
                        ),
                        "quantity": line.product_qty,
                        "uom": self._mfg_code("uom", line.product_uom_id, line.product_uom_id.name),
                    }
                )
        return records

    def _mfg_records_stock_levels(self, since):
        warehouse = self.backend_id.warehouse_id
        domain = [("location_id.usage", "=", "internal"), ("company_id", "=", self.company_id.id)]
        if warehouse:
            domain.append(("location_id", "child_of", warehouse.view_location_id.id))
        if since:
            domain.append(("write_date", ">", since))
        records = []
        for quant in self.env["stock.quant"].sudo().search(domain, order="location_id, product_id, lot_id"):
            location = quant.location_id
            records.append(
                {
                    "location": self._mfg_code(
                        "location", location, location.barcode or location.complete_name
                    ),
                    "product": self._mfg_code(
                        "product", quant.product_id, quant.product_id.default_code or str(quant.product_id.id)
                    ),
                    "lot": quant.lot_id.name or "",
                    "quantity": quant.quantity,
                    "uom": self._mfg_code("uom", quant.product_uom_id, quant.product_uom_id.name),
                }
            )
        return records
