from odoo import api, fields, models

from odoo.addons.mfg_integration_base.exceptions import MfgPermanentError
from odoo.addons.mfg_integration_base.lib.dates import format_rfc3339

REQUEST_TYPE = "erp.inspection_request"
REQUEST_STATES = [
    ("requested", "Requested"),
    ("pass", "Passed"),
    ("fail", "Failed"),
    ("conditional", "Conditional"),
]


class MfgInspectionRequest(models.Model):
    """Odoo asked a quality system to inspect a lot (erp.inspection_request.v1).

    One per lot and backend, written when a receipt or a manufacturing order of a product
    flagged 'Inspection required' is done. Its number is the correlation id the quality system
    sends back with qms.inspection_result, which links the inspection to the request."""

    _name = "mfg.inspection.request"
    _description = "Inspection Request"
    _order = "id desc"

    name = fields.Char(
        string="Request",
        required=True,
        readonly=True,
        copy=False,
        index=True,
        help="Also the correlation id.",
    )
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    backend_id = fields.Many2one(
        "mfg.backend", string="Quality system", required=True, readonly=True, ondelete="restrict", index=True
    )
    lot_id = fields.Many2one("stock.lot", string="Lot/Serial", required=True, readonly=True, index=True)
    product_id = fields.Many2one("product.product", required=True, readonly=True)
    quantity = fields.Float(digits="Product Unit of Measure", readonly=True)
    uom_id = fields.Many2one("uom.uom", string="Unit", readonly=True)
    origin_type = fields.Selection(
        [("production", "Manufacturing order"), ("receipt", "Receipt")], string="Origin", readonly=True
    )
    origin_ref = fields.Char(string="Origin reference", readonly=True)
    production_id = fields.Many2one("mrp.production", string="Manufacturing order", readonly=True)
    picking_id = fields.Many2one("stock.picking", string="Receipt", readonly=True)
    warehouse_id = fields.Many2one("stock.warehouse", readonly=True)
    requested_at = fields.Datetime(readonly=True, default=fields.Datetime.now)
    hold_until_inspected = fields.Boolean(
        readonly=True, help="The lot was put on hold until the result of this request arrives."
    )
    outbound_message_id = fields.Many2one("mfg.message", string="Message sent", readonly=True)
    inspection_ids = fields.One2many("mfg.quality.inspection", "request_id", string="Inspections")
    inspection_id = fields.Many2one(
        "mfg.quality.inspection", string="Last inspection", compute="_compute_state", store=True
    )
    state = fields.Selection(
        REQUEST_STATES,
        compute="_compute_state",
        store=True,
        index=True,
        help="Requested until a result with this correlation id arrives; then the verdict of the latest.",
    )

    _sql_constraints = [
        (
            "name_company_uniq",
            "unique(company_id, name)",
            "An inspection request number is unique per company.",
        ),
    ]

    @api.depends("inspection_ids.verdict", "inspection_ids.inspected_at")
    def _compute_state(self):
        for rec in self:
            last = rec.inspection_ids.sorted(lambda i: (i.inspected_at, i.id))[-1:]
            rec.inspection_id = last
            rec.state = last.verdict or "requested"

    # ------------------------------------------------------------------ outbound
    @api.model
    def _mfg_request_for_moves(self, moves):
        """Write one request per lot and backend for these done moves (finished products of MOs
        and receipts) and queue erp.inspection_request for each, in the caller's transaction.
        Lots of products flagged 'Hold until inspected' are held until the result arrives."""
        groups = {}
        for line in moves.move_line_ids.filtered(lambda ml: ml.lot_id and ml.quantity):
            move = line.move_id
            origin = move.production_id or move.picking_id
            key = (origin, line.lot_id)
            groups.setdefault(key, [move, 0.0])
            groups[key][1] += line.quantity_product_uom
        requests = self.browse()
        for (origin, lot), (move, quantity) in groups.items():
            requests |= self._mfg_request_lot(origin, lot, move, quantity)
        return requests

    @api.model
    def _mfg_request_lot(self, origin, lot, move, quantity):
        is_production = origin._name == "mrp.production"
        warehouse = origin.picking_type_id.warehouse_id
        company = move.company_id
        domain = [("company_id", "=", company.id)]
        if warehouse:
            domain += ["|", ("warehouse_id", "=", False), ("warehouse_id", "=", warehouse.id)]
        Outbox = self.env["mfg.outbox"]
        backends = Outbox._mfg_backends(REQUEST_TYPE, domain)
        product = lot.product_id
        hold = product.mfg_hold_until_inspected
        requests = self.browse()
        for backend in backends:
            request = self.create(
                {
                    "name": self.env["ir.sequence"].next_by_code("mfg.inspection.request") or "/",
                    "company_id": company.id,
                    "backend_id": backend.id,
                    "lot_id": lot.id,
                    "product_id": product.id,
                    "quantity": quantity,
                    "uom_id": product.uom_id.id,
                    "origin_type": "production" if is_production else "receipt",
                    "origin_ref": origin.name,
                    "production_id": origin.id if is_production else False,
                    "picking_id": False if is_production else origin.id,
                    "warehouse_id": warehouse.id or False,
                    "requested_at": fields.Datetime.now(),
                    "hold_until_inspected": hold,
                }
            )
            request.outbound_message_id = Outbox._mfg_put(
                backend,
                REQUEST_TYPE,
                request._mfg_request_payload(),
                ordering_key=lambda payload: payload["lot"],
                correlation_id=request.name,
            )
            requests |= request
        if hold and requests:
            lot._mfg_set_hold(
                "held",
                self.env._(
                    "Awaiting inspection (%(requests)s, %(origin)s).",
                    requests=", ".join(requests.mapped("name")),
                    origin=origin.name,
                ),
                request=requests[:1],
            )
        return requests

    def _mfg_request_payload(self):
        """erp.inspection_request.v1, in the backend's codes where it has code mappings."""
        self.ensure_one()
        backend = self.backend_id
        product = self.product_id
        return {
            "message_id": self.name,
            "request_id": self.name,
            "correlation_id": self.name,
            "sent_at": format_rfc3339(fields.Datetime.now()),
            "lot": backend._mfg_code_for("lot", self.lot_id, self.lot_id.name),
            "product": backend._mfg_code_for(
                "product", product, product.default_code or product.display_name
            ),
            "quantity": self.quantity,
            "uom": backend._mfg_code_for("uom", self.uom_id, self.uom_id.name),
            "origin": {"type": self.origin_type, "reference": self.origin_ref},
            "requested_at": format_rfc3339(self.requested_at),
            "warehouse": self.warehouse_id.code or None,
            "company": self.company_id.name or None,
            "hold_until_inspected": self.hold_until_inspected,
        }

    # ------------------------------------------------------------------ inbound link
    @api.model
    def _mfg_find_for_result(self, backend, correlation_id, lot):
        """The request a qms.inspection_result answers (its correlation id), or an empty
        recordset when the correlation id is not one of ours. A request of another lot is a
        business error naming both lots."""
        if not correlation_id:
            return self.browse()
        requests = self.search(
            [("name", "=", correlation_id), ("company_id", "=", backend.company_id.id)], limit=2
        )
        request = requests.filtered(lambda r: r.backend_id == backend)[:1] or requests[:1]
        if request and request.lot_id != lot:
            raise MfgPermanentError(
                self.env._(
                    "correlation_id '%(corr)s' is the inspection request of lot %(req_lot)s of "
                    "%(req_product)s, not of lot %(lot)s of %(product)s: send the result with the lot "
                    "that was requested, or with its own correlation_id.",
                    corr=correlation_id,
                    req_lot=request.lot_id.name,
                    req_product=request.product_id.display_name,
                    lot=lot.name,
                    product=lot.product_id.display_name,
                )
            )
        return request

    # ------------------------------------------------------------------ UI
    def action_view_inspections(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_quality_connector.action_mfg_quality_inspection"
        )
        action["domain"] = [("request_id", "=", self.id)]
        action["context"] = {}
        return action
