"""mfg.sparkplug.rule: the metric map of a backend — which Sparkplug metric of which edge node /
device becomes which canonical fact (lib/aggregate.py applies it in the listener)."""

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..lib import aggregate


class MfgSparkplugRule(models.Model):
    _name = "mfg.sparkplug.rule"
    _description = "Sparkplug metric map rule"
    _order = "backend_id, sequence, id"

    backend_id = fields.Many2one("mfg.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    edge_node = fields.Char(help="Edge node id; empty: any edge node of the group.")
    device = fields.Char(help="Device id; empty: any device of the edge node, and the node's own metrics.")
    metric = fields.Char(required=True, help="Metric name as in the birth certificate, e.g. 'Machine/State'.")
    kind = fields.Selection(
        [
            ("state", "Machine state → downtime (mes.downtime)"),
            ("good_count", "Good parts counter → produced quantity (mes.production_completion)"),
            (
                "good_progress",
                "Good parts counter → progress, the order stays open (mes.production_progress)",
            ),
            ("reject_count", "Reject counter → scrap (mes.scrap)"),
            ("measurement", "Numeric value → quality measurement (qms.inspection_result)"),
        ],
        required=True,
    )
    workcenter_code = fields.Char(
        string="Work center code",
        help="Plant code of the work center (mapped with kind 'workcenter'); empty: the device id, "
        "or the edge node id for a node metric.",
    )
    state_map = fields.Char(
        help="Machine state values that are a downtime, with their loss reason code (mapped with kind "
        "'loss_reason'): e.g. '2=breakdown, 3=setup'. Other values mean running."
    )
    uom_code = fields.Char(
        string="Unit code", default="Units", help="Plant unit of the counter (kind 'uom')."
    )
    product_code = fields.Char(
        help="Reject counter: the scrapped product's code; empty: the running order's product."
    )
    counter_max = fields.Float(
        help="Counter: the largest value before it rolls over to 0 (e.g. 65535); 0: a smaller value is a reset."
    )

    characteristic = fields.Char(
        help="Measurement: the quality characteristic / test code the values are reported as "
        "(e.g. 'DIAMETER'); empty: the metric name.",
    )
    has_lower_limit = fields.Boolean(string="Lower limit set")
    lower_limit = fields.Float(
        digits=(16, 6), help="Measurement: a value below it fails the inspection (if 'Lower limit set')."
    )
    has_upper_limit = fields.Boolean(string="Upper limit set")
    upper_limit = fields.Float(
        digits=(16, 6), help="Measurement: a value above it fails the inspection (if 'Upper limit set')."
    )
    measure_unit = fields.Char(
        string="Measurement unit", size=32, help="Measurement: the unit of the values, e.g. 'mm' or '°C'."
    )

    @api.constrains("kind", "has_lower_limit", "lower_limit", "has_upper_limit", "upper_limit")
    def _check_limits(self):
        for rec in self:
            if (
                rec.kind == "measurement"
                and rec.has_lower_limit
                and rec.has_upper_limit
                and rec.lower_limit > rec.upper_limit
            ):
                raise ValidationError(
                    self.env._(
                        "Metric %(metric)s: the lower limit %(lower)s is above the upper limit %(upper)s.",
                        metric=rec.metric,
                        lower=rec.lower_limit,
                        upper=rec.upper_limit,
                    )
                )

    @api.constrains("kind", "state_map")
    def _check_state_map(self):
        for rec in self:
            try:
                parsed = aggregate.parse_state_map(rec.state_map)
            except ValueError as exc:
                raise ValidationError(
                    self.env._("Metric %(metric)s: %(error)s", metric=rec.metric, error=exc)
                ) from exc
            if rec.kind == "state" and not parsed:
                raise ValidationError(
                    self.env._(
                        "Metric %(metric)s is a machine state: give at least one down value and its loss "
                        "reason code in State map (e.g. '2=breakdown').",
                        metric=rec.metric,
                    )
                )

    def _mfg_sparkplug_rules(self):
        """The rules as lib/aggregate.py reads them."""
        return [
            aggregate.Rule(
                rec.id,
                rec.edge_node,
                rec.device,
                rec.metric,
                rec.kind,
                workcenter=rec.workcenter_code,
                state_map=aggregate.parse_state_map(rec.state_map),
                uom=rec.uom_code,
                product=rec.product_code,
                counter_max=rec.counter_max,
                characteristic=rec.characteristic,
                lower=rec.lower_limit if rec.has_lower_limit else None,
                upper=rec.upper_limit if rec.has_upper_limit else None,
                unit=rec.measure_unit,
            )
            for rec in self
        ]
