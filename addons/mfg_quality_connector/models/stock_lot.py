import logging
import uuid

from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.mfg_integration_base.exceptions import MfgPermanentError
from odoo.addons.mfg_integration_base.lib.dates import format_rfc3339, parse_rfc3339

_logger = logging.getLogger(__name__)

HOLD_STATES = [("held", "Held"), ("released", "Released")]
STATUS_EXCHANGE_TYPE = "erp.lot_status_changed"


class StockLot(models.Model):
    _name = "stock.lot"
    _inherit = ["stock.lot", "mfg.handler.mixin"]

    mfg_hold_state = fields.Selection(
        HOLD_STATES,
        string="Quality hold",
        readonly=True,
        copy=False,
        index=True,
        help="Held: the lot can be neither delivered, moved out of stock nor consumed. Empty: never held.",
    )
    mfg_hold_since = fields.Datetime(string="Hold state since", readonly=True, copy=False)
    mfg_hold_event_at = fields.Datetime(
        string="Last hold event time",
        readonly=True,
        copy=False,
        help="Event time of the newest hold or release applied: an older one arriving later is ignored.",
    )
    mfg_hold_reason = fields.Text(string="Hold reason", readonly=True, copy=False)
    mfg_hold_message_id = fields.Many2one(
        "mfg.message", string="Hold changed by message", readonly=True, copy=False
    )
    mfg_hold_user_id = fields.Many2one("res.users", string="Hold changed by", readonly=True, copy=False)
    mfg_hold_nonconformance_id = fields.Many2one(
        "mfg.nonconformance", string="Nonconformance", readonly=True, copy=False
    )
    mfg_hold_event_ids = fields.One2many("mfg.lot.hold.event", "lot_id", string="Hold history", readonly=True)
    mfg_hold_event_count = fields.Integer(compute="_compute_mfg_quality_counts")
    mfg_inspection_ids = fields.One2many(
        "mfg.quality.inspection", "lot_id", string="Inspections", readonly=True
    )
    mfg_inspection_count = fields.Integer(compute="_compute_mfg_quality_counts")
    mfg_nonconformance_count = fields.Integer(compute="_compute_mfg_quality_counts")
    mfg_inspection_request_count = fields.Integer(compute="_compute_mfg_quality_counts")

    def _compute_mfg_quality_counts(self):
        Request = self.env["mfg.inspection.request"]
        for lot in self:
            lot.mfg_hold_event_count = len(lot.mfg_hold_event_ids)
            lot.mfg_inspection_count = len(lot.mfg_inspection_ids)
            lot.mfg_inspection_request_count = Request.search_count([("lot_id", "=", lot.id)])
            lot.mfg_nonconformance_count = self.env["mfg.nonconformance"].search_count(
                [("lot_ids", "in", lot.id)]
            )

    # ------------------------------------------------------------------ look-up
    @api.model
    def _mfg_find_lot(self, backend, lot_code, product, path=None):
        """The lot ``lot_code`` of ``product`` for ``backend`` (the one resolver: a 'lot' code
        mapping of the backend first, then the lot of that name and product in the backend's
        company). Raises MfgMappingError naming the lot and product when there is none."""
        return backend._mfg_resolve("lot", lot_code, product=product, path=path).with_env(self.env)

    @api.model
    def _mfg_lot_from_payload(self, message, data):
        backend = message.backend_id
        product = backend._mfg_resolve("product", data["product"])
        return self._mfg_find_lot(backend, data["lot"], product, path="/lot")

    # ------------------------------------------------------------------ hold / release
    def _mfg_set_hold(
        self,
        state,
        reason,
        event_at=None,
        message=None,
        nonconformance=None,
        inspection=None,
        requested_by=None,
        request=None,
    ):
        """Hold (state 'held') or release (state 'released') these lots.

        ``event_at`` (naive UTC) is when the quality system took the decision: a request older
        than the lot's last applied change is ignored (written to the history, nothing else),
        so that the newest decision wins whatever order the messages arrive in. A real change
        writes the history, posts on the lot and queues an erp.lot_status_changed notification
        to every backend of the lot's company with that outbound flow enabled, and moves the
        lot to the quarantine location of the warehouses that have one (see
        ``_mfg_move_to_quarantine``). Holding a held lot changes nothing, except that a
        nonconformance given then becomes the lot's (e.g. a failed inspection of a lot held
        while awaiting it). ``request`` is the inspection request that asked for the hold.
        Returns the history lines written.
        """
        event_at = event_at or fields.Datetime.now()
        message = message or self.env["mfg.message"]
        events = self.env["mfg.lot.hold.event"]
        state_label = dict(HOLD_STATES)[state]
        for lot in self:
            vals = {
                "lot_id": lot.id,
                "company_id": (lot.company_id or message.company_id or self.env.company).id,
                "requested_state": state,
                "event_at": event_at,
                "reason": reason,
                "message_id": message.id or False,
                "user_id": self.env.user.id,
                "requested_by": requested_by or False,
                "nonconformance_id": nonconformance.id if nonconformance else False,
                "inspection_id": inspection.id if inspection else False,
                "request_id": request.id if request else False,
            }
            if lot.mfg_hold_event_at and event_at < lot.mfg_hold_event_at:
                vals["action"] = "ignored"
                vals["note"] = self.env._(
                    "Event of %(event)s UTC is older than the last change (%(last)s UTC, %(state)s): ignored.",
                    event=event_at,
                    last=lot.mfg_hold_event_at,
                    state=dict(HOLD_STATES).get(lot.mfg_hold_state, "-"),
                )
                events |= events.create(vals)
                continue
            if (lot.mfg_hold_state or "released") == state:
                vals["action"] = "unchanged"
                vals["note"] = self.env._("The lot is already %(state)s.", state=state_label.lower())
                lot_vals = {"mfg_hold_event_at": event_at}
                if state == "held" and nonconformance and lot.mfg_hold_nonconformance_id != nonconformance:
                    vals["note"] = self.env._(
                        "The lot is already held; it is now held by nonconformance %(nc)s.",
                        nc=nonconformance.name,
                    )
                    lot_vals.update(
                        mfg_hold_reason=reason or lot.mfg_hold_reason,
                        mfg_hold_nonconformance_id=nonconformance.id,
                        mfg_hold_message_id=message.id or lot.mfg_hold_message_id.id,
                    )
                lot.sudo().write(lot_vals)
                events |= events.create(vals)
                continue
            vals["action"] = "hold" if state == "held" else "release"
            event = events.create(vals)
            events |= event
            lot.sudo().write(
                {
                    "mfg_hold_state": state,
                    "mfg_hold_since": fields.Datetime.now(),
                    "mfg_hold_event_at": event_at,
                    "mfg_hold_reason": reason or False,
                    "mfg_hold_message_id": message.id or False,
                    "mfg_hold_user_id": self.env.user.id,
                    "mfg_hold_nonconformance_id": nonconformance.id
                    if nonconformance
                    else (lot.mfg_hold_nonconformance_id.id if state == "released" else False),
                }
            )
            source = message.display_name if message else self.env.user.name
            lot.message_post(
                body=self.env._(
                    "Quality %(state)s by %(who)s: %(reason)s",
                    state=state_label.lower(),
                    who=source,
                    reason=reason or "-",
                )
            )
            lot._mfg_notify_status(message)
            if state == "held":
                event.quarantine_picking_ids = lot._mfg_move_to_quarantine()
        return events

    def _mfg_hold_request(self):
        """The inspection request whose 'awaiting inspection' hold is the lot's current hold."""
        self.ensure_one()
        if self.mfg_hold_state != "held":
            return self.env["mfg.inspection.request"]
        last = self.mfg_hold_event_ids.filtered(lambda e: e.action == "hold")[:1]
        return last.request_id

    def _mfg_notify_status(self, message=None):
        """Queue erp.lot_status_changed (transactional outbox) to every backend of the lot's
        company that has the outbound flow enabled."""
        self.ensure_one()
        company = self.company_id or (message.company_id if message else self.env.company)
        Outbox = self.env["mfg.outbox"]
        return Outbox._mfg_put(
            Outbox._mfg_backends(STATUS_EXCHANGE_TYPE, [("company_id", "=", company.id)]),
            STATUS_EXCHANGE_TYPE,
            self._mfg_status_payload,
            ordering_key=lambda payload: payload["lot"],
            correlation_id=message.correlation_id if message and message.correlation_id else None,
        )

    def _mfg_status_payload(self, backend=None):
        """The lot's release status as sent (erp.lot_status_changed.v1) and answered by the
        release-status API. Codes are the backend's when it has a code mapping for them."""
        self.ensure_one()
        product = self.product_id
        product_code = product.default_code or product.display_name
        lot_code = self.name
        if backend:
            product_code = backend._mfg_code_for("product", product, product_code)
            lot_code = backend._mfg_code_for("lot", self, lot_code)
        nc = self.mfg_hold_nonconformance_id
        return {
            "message_id": str(uuid.uuid4()),
            "lot": lot_code,
            "product": product_code,
            "status": self.mfg_hold_state or "released",
            "since": format_rfc3339(self.mfg_hold_since),
            "event_at": format_rfc3339(self.mfg_hold_event_at),
            "reason": self.mfg_hold_reason or None,
            "nonconformance": nc.name if nc else None,
            "changed_by": (
                self.mfg_hold_message_id.backend_id.code
                if self.mfg_hold_message_id
                else self.mfg_hold_user_id.login or None
            ),
            "company": self.company_id.name or None,
        }

    def _mfg_hold_blocking_text(self):
        """Why this held lot cannot leave stock, naming the lot and the nonconformance."""
        self.ensure_one()
        nc = self.mfg_hold_nonconformance_id
        return self.env._(
            "Lot %(lot)s of %(product)s is on quality hold%(nc)s since %(since)s UTC (%(reason)s).",
            lot=self.name,
            product=self.product_id.display_name,
            nc=self.env._(" by nonconformance %(nc)s", nc=nc.name) if nc else "",
            since=self.mfg_hold_since,
            reason=self.mfg_hold_reason or "-",
        )

    # ------------------------------------------------------------------ handlers
    def _mfg_handle_lot_hold(self, message, data):
        """Handler of qms.lot_hold.v1."""
        return self._mfg_apply_hold_message(message, data, "held")

    def _mfg_handle_lot_release(self, message, data):
        """Handler of qms.lot_release.v1."""
        return self._mfg_apply_hold_message(message, data, "released")

    def _mfg_apply_hold_message(self, message, data, state):
        lot = self._mfg_lot_from_payload(message, data)
        nonconformance = self.env["mfg.nonconformance"]
        if data.get("nonconformance"):
            nonconformance = nonconformance._mfg_find(message.backend_id, data["nonconformance"])
            if not nonconformance:
                raise MfgPermanentError(
                    self.env._(
                        "Unknown nonconformance '%(nc)s' (company %(company)s): send the "
                        "qms.nonconformance message first, or leave the field out.",
                        nc=data["nonconformance"],
                        company=message.backend_id.company_id.name,
                    )
                )
        events = lot._mfg_set_hold(
            state,
            data.get("reason"),
            event_at=parse_rfc3339(data["event_at"], "/event_at"),
            message=message,
            nonconformance=nonconformance,
            requested_by=data.get("requested_by"),
        )
        return [lot, nonconformance, events]

    # ------------------------------------------------------------------ UI
    def action_mfg_hold(self):
        return self._mfg_hold_wizard("held")

    def action_mfg_release(self):
        return self._mfg_hold_wizard("released")

    def _mfg_hold_wizard(self, state):
        if not self.env.user.has_group("mfg_integration_base.group_mfg_manager"):
            raise UserError(self.env._("Only Integration Managers may hold or release lots by hand."))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Hold lots") if state == "held" else self.env._("Release lots"),
            "res_model": "mfg.lot.hold.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_state": state, "default_lot_ids": self.ids},
        }

    def action_mfg_view_hold_history(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Hold history of %(lot)s", lot=self.name),
            "res_model": "mfg.lot.hold.event",
            "view_mode": "list,form",
            "domain": [("lot_id", "=", self.id)],
        }

    def action_mfg_view_inspections(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_quality_connector.action_mfg_quality_inspection"
        )
        action["domain"] = [("lot_id", "=", self.id)]
        action["context"] = {}
        return action

    def action_mfg_view_inspection_requests(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_quality_connector.action_mfg_inspection_request"
        )
        action["domain"] = [("lot_id", "=", self.id)]
        action["context"] = {}
        return action

    def action_mfg_view_nonconformances(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_quality_connector.action_mfg_nonconformance"
        )
        action["domain"] = [("lot_ids", "in", self.id)]
        action["context"] = {}
        return action
