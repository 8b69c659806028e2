from odoo import api, fields, models

from odoo.addons.mfg_integration_base.exceptions import MfgPermanentError
from odoo.addons.mfg_integration_base.lib.dates import parse_rfc3339

VERDICTS = [("pass", "Pass"), ("fail", "Fail"), ("conditional", "Conditional")]
RESULTS = [("pass", "Pass"), ("fail", "Fail")]
ORIGINS = [("production", "Manufacturing order"), ("receipt", "Receipt"), ("other", "Other")]


class MfgQualityInspection(models.Model):
    """One inspection (ISA-95 test result) of a lot, as reported by a quality system."""

    _name = "mfg.quality.inspection"
    _description = "Quality Inspection"
    _inherit = ["mail.thread", "mfg.handler.mixin"]
    _order = "inspected_at desc, id desc"

    name = fields.Char(string="Inspection", required=True, index=True, help="The quality system's id.")
    backend_id = fields.Many2one("mfg.backend", string="Quality system", ondelete="restrict", index=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    lot_id = fields.Many2one("stock.lot", string="Lot/Serial", required=True, ondelete="restrict", index=True)
    product_id = fields.Many2one("product.product", required=True)
    test_specification = fields.Char(help="ISA-95 test specification the inspection followed.")
    origin_type = fields.Selection(ORIGINS, string="Origin")
    origin_ref = fields.Char(
        string="Origin reference", help="MO or receipt number as the quality system sent it."
    )
    production_id = fields.Many2one("mrp.production", string="Manufacturing order")
    picking_id = fields.Many2one("stock.picking", string="Receipt")
    verdict = fields.Selection(VERDICTS, required=True, tracking=True)
    inspector = fields.Char(help="Who inspected, in the quality system.")
    system = fields.Char(string="Inspection system", help="Instrument or system that measured.")
    inspected_at = fields.Datetime(string="Evaluated at", required=True)
    received_at = fields.Datetime(default=fields.Datetime.now, readonly=True)
    note = fields.Text()
    line_ids = fields.One2many("mfg.quality.inspection.line", "inspection_id", string="Characteristics")
    mfg_message_id = fields.Many2one("mfg.message", string="Message", readonly=True)
    nonconformance_id = fields.Many2one("mfg.nonconformance", readonly=True)
    request_id = fields.Many2one(
        "mfg.inspection.request",
        string="Inspection request",
        readonly=True,
        index="btree_not_null",
        help="The request this result answers (its correlation_id).",
    )

    _sql_constraints = [
        ("backend_name_uniq", "unique(backend_id, name)", "An inspection id is unique per quality system."),
    ]

    def action_view_request(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "mfg.inspection.request",
            "res_id": self.request_id.id,
            "view_mode": "form",
        }

    def action_view_lot(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "stock.lot",
            "res_id": self.lot_id.id,
            "view_mode": "form",
        }

    # ------------------------------------------------------------------ handler
    @api.model
    def _mfg_handle_inspection_result(self, message, data):
        """Handler of qms.inspection_result.v1: store the result, linked to the inspection
        request its correlation_id names; a failed one opens a nonconformance and holds the lot,
        in the same transaction. A lot held awaiting inspection is released by a passing one."""
        backend = message.backend_id
        Lot = self.env["stock.lot"]
        lot = Lot._mfg_lot_from_payload(message, data)
        existing = self.search(
            [("backend_id", "=", backend.id), ("name", "=", data["inspection_id"])], limit=1
        )
        if existing:
            raise MfgPermanentError(
                self.env._(
                    "Inspection %(id)s of backend %(backend)s is already recorded (by %(msg)s): a retest "
                    "needs its own inspection_id.",
                    id=data["inspection_id"],
                    backend=backend.code,
                    msg=existing.mfg_message_id.display_name or "-",
                )
            )
        request = self.env["mfg.inspection.request"]._mfg_find_for_result(
            backend, data.get("correlation_id") or message.correlation_id, lot
        )
        origin = data.get("origin") or (
            {"type": request.origin_type, "reference": request.origin_ref} if request else {}
        )
        production = picking = False
        if origin.get("reference"):
            if origin.get("type") == "production":
                production = self.env["mrp.production"].search(
                    [("name", "=", origin["reference"]), ("company_id", "=", backend.company_id.id)], limit=1
                )
            elif origin.get("type") == "receipt":
                picking = self.env["stock.picking"].search(
                    [("name", "=", origin["reference"]), ("company_id", "=", backend.company_id.id)], limit=1
                )
        inspected_at = parse_rfc3339(data["evaluated_at"], "/evaluated_at")
        inspection = self.create(
            {
                "name": data["inspection_id"],
                "backend_id": backend.id,
                "company_id": backend.company_id.id,
                "lot_id": lot.id,
                "product_id": lot.product_id.id,
                "test_specification": data.get("test_specification"),
                "origin_type": origin.get("type"),
                "origin_ref": origin.get("reference"),
                "production_id": production.id if production else False,
                "picking_id": picking.id if picking else False,
                "verdict": data["verdict"],
                "inspector": data.get("inspector"),
                "system": data.get("system"),
                "inspected_at": inspected_at,
                "note": data.get("note"),
                "mfg_message_id": message.id,
                "request_id": request.id or False,
                "line_ids": [
                    fields.Command.create(self.env["mfg.quality.inspection.line"]._mfg_vals(item))
                    for item in data.get("characteristics") or []
                ],
            }
        )
        records = [inspection, lot, request]
        # A lot held while awaiting its inspection: this result answers it. Its event time is at
        # least the hold's, so a result evaluated before Odoo's clock placed the hold still counts.
        awaiting = lot._mfg_hold_request()
        hold_at = max(inspected_at, lot.mfg_hold_event_at) if awaiting else inspected_at
        if awaiting and inspection.verdict == "pass":
            records.append(
                lot._mfg_set_hold(
                    "released",
                    self.env._("Inspection %(id)s passed.", id=inspection.name),
                    event_at=hold_at,
                    message=message,
                    inspection=inspection,
                    requested_by=data.get("inspector"),
                    request=request or awaiting,
                )
            )
        if inspection.verdict == "fail":
            failed = inspection.line_ids.filtered(lambda line: line.result == "fail")
            reason = self.env._(
                "Inspection %(id)s failed%(what)s.",
                id=inspection.name,
                what=(": " + ", ".join(failed.mapped("name"))) if failed else "",
            )
            Nonconformance = self.env["mfg.nonconformance"]
            nonconformance = (
                Nonconformance._mfg_find(backend, data["nonconformance_id"])
                if data.get("nonconformance_id")
                else Nonconformance
            )
            if nonconformance:
                nonconformance.write(
                    {"lot_ids": [fields.Command.link(lot.id)], "inspection_id": inspection.id}
                )
            else:
                nonconformance = Nonconformance.create(
                    {
                        "name": data.get("nonconformance_id") or False,
                        "company_id": backend.company_id.id,
                        "backend_id": backend.id,
                        "product_id": lot.product_id.id,
                        "lot_ids": [fields.Command.link(lot.id)],
                        "severity": data.get("severity") or "major",
                        "description": reason,
                        "detected_at": inspected_at,
                        "inspection_id": inspection.id,
                        "mfg_message_id": message.id,
                    }
                )
            inspection.nonconformance_id = nonconformance
            events = lot._mfg_set_hold(
                "held",
                reason,
                event_at=hold_at,
                message=message,
                nonconformance=nonconformance,
                inspection=inspection,
                requested_by=data.get("inspector"),
                request=request,
            )
            records += [nonconformance, events]
        return records


class MfgQualityInspectionLine(models.Model):
    """One characteristic measured (ISA-95 property measurement): value, limits and result."""

    _name = "mfg.quality.inspection.line"
    _description = "Quality Inspection Characteristic"
    _order = "inspection_id, sequence, id"

    inspection_id = fields.Many2one("mfg.quality.inspection", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="inspection_id.company_id", store=True)
    sequence = fields.Integer(default=10)
    name = fields.Char(string="Characteristic", required=True)
    description = fields.Char()
    measured_value = fields.Float(digits=(16, 6))
    value_text = fields.Char(
        string="Value (text)", help="A measured value that is not a number (OK, colour...)."
    )
    unit = fields.Char()
    lower_limit = fields.Float(digits=(16, 6))
    upper_limit = fields.Float(digits=(16, 6))
    has_lower_limit = fields.Boolean()
    has_upper_limit = fields.Boolean()
    result = fields.Selection(RESULTS, required=True)

    @api.model
    def _mfg_vals(self, item):
        value = item.get("value")
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        return {
            "name": item["characteristic"],
            "description": item.get("description"),
            "measured_value": value if numeric else 0.0,
            "value_text": False if numeric or value is None else str(value),
            "unit": item.get("unit"),
            "lower_limit": item.get("lower_limit") or 0.0,
            "upper_limit": item.get("upper_limit") or 0.0,
            "has_lower_limit": item.get("lower_limit") is not None,
            "has_upper_limit": item.get("upper_limit") is not None,
            "result": item["result"],
        }
