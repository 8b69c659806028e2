from odoo import api, fields, models
from odoo.fields import Command
from odoo.osv import expression
from odoo.tools import html2plaintext

# When two events carry the same time, the cause comes before its effect: a message before what
# applying it did, a fact before the hold it led to, a person's action last.
KIND_RANK = {
    "message_out": 0,
    "message_in": 0,
    "consumption": 1,
    "production": 2,
    "transfer": 2,
    "delivery": 2,
    "inspection_request": 3,
    "inspection": 3,
    "nonconformance": 4,
    "hold": 5,
    "release": 5,
    "manual": 6,
}


class MfgTrace(models.TransientModel):
    """The digital thread of lots (and the orders and transfers around them): every event from
    every system in time order, as ``mfg.trace.event`` lines. Built on demand by
    :meth:`_mfg_open` (the Traceability buttons) and for evidence packs."""

    _name = "mfg.trace"
    _description = "Digital thread"

    name = fields.Char(required=True)
    lot_ids = fields.Many2many("stock.lot", string="Lots/Serials")
    production_ids = fields.Many2many("mrp.production", string="Manufacturing orders")
    picking_ids = fields.Many2many("stock.picking", string="Transfers")
    event_ids = fields.One2many("mfg.trace.event", "trace_id", string="Events")

    # ------------------------------------------------------------------ building
    @api.model
    def _mfg_build(self, lots=None, productions=None, pickings=None, name=None):
        """A thread of ``lots`` and the orders around them: the orders that produced or consumed
        them and the transfers that moved them, plus ``productions`` and ``pickings`` given."""
        su = self.env(su=True)
        lots = (lots or su["stock.lot"]).sudo()
        productions = (productions or su["mrp.production"]).sudo()
        pickings = (pickings or su["stock.picking"]).sudo()
        lines = su["stock.move.line"].search([("lot_id", "in", lots.ids)]) if lots else su["stock.move.line"]
        productions |= lines.move_id.production_id | lines.move_id.raw_material_production_id
        productions |= (
            su["mrp.production"].search([("lot_producing_id", "in", lots.ids)]) if lots else productions
        )
        pickings |= lines.picking_id
        trace = self.create(
            {
                "name": name
                or ", ".join((lots or productions or pickings).mapped("display_name")[:5])
                or "-",
                "lot_ids": [Command.set(lots.ids)],
                "production_ids": [Command.set(productions.ids)],
                "picking_ids": [Command.set(pickings.ids)],
            }
        )
        events = []
        for source in self._mfg_event_sources():
            events += getattr(trace, source)()
        events.sort(
            key=lambda e: (
                e["event_at"] or fields.Datetime.from_string("1970-01-01"),
                KIND_RANK[e["kind"]],
                e.get("_order", 0),
            )
        )
        for sequence, event in enumerate(events, start=1):
            event.pop("_order", None)
            event.update(trace_id=trace.id, sequence=sequence)
        self.env["mfg.trace.event"].create(events)
        return trace

    @api.model
    def _mfg_event_sources(self):
        """Names of the methods that each return the events of one source (list of dicts of
        ``mfg.trace.event`` values). Add a source by overriding this and adding a method."""
        return [
            "_mfg_events_messages",
            "_mfg_events_stock",
            "_mfg_events_inspections",
            "_mfg_events_holds",
            "_mfg_events_nonconformances",
        ]

    # ------------------------------------------------------------------ sources
    def _mfg_messages(self):
        """Integration messages linked to the lots, orders and transfers of the thread (by the
        pipeline's record links), or whose ordering key is one of their names (e.g. the lot
        status sent to the quality system). Read with the user's rights: a user sees the messages
        of the backends of their plants only (the base's record rules)."""
        Message = self.env["mfg.message"]
        scope = self.sudo()  # names of the scope; the messages themselves are read with the user's rights
        domains = [
            [("record_ids", "any", [("res_model", "=", records._name), ("res_id", "in", records.ids)])]
            for records in (scope.lot_ids, scope.production_ids, scope.picking_ids)
            if records
        ]
        names = (
            scope.lot_ids.mapped("name")
            + scope.production_ids.mapped("name")
            + scope.picking_ids.mapped("name")
        )
        if names:
            companies = (
                scope.lot_ids.company_id | scope.production_ids.company_id | scope.picking_ids.company_id
            )
            domains.append([("ordering_key", "in", names), ("company_id", "in", companies.ids)])
        if not domains:
            return Message
        return Message.search(expression.OR(domains), order="id")

    def _mfg_events_messages(self):
        messages = self._mfg_messages()
        events = []
        for msg in messages:
            backend = msg.backend_id
            events.append(
                {
                    "event_at": msg.received_at,
                    "kind": "message_in" if msg.direction == "inbound" else "message_out",
                    "system": backend.system_kind,
                    "backend_id": backend.id,
                    "summary": self.env._(
                        "%(type)s %(direction)s %(backend)s: %(state)s",
                        type=msg.exchange_type_id.display_name,
                        direction=self.env._("from") if msg.direction == "inbound" else self.env._("to"),
                        backend=backend.name,
                        state=dict(msg._fields["state"].selection)[msg.state],
                    ),
                    "detail": msg.payload,
                    "state": msg.state,
                    "actor": backend.name,
                    "res_model": msg._name,
                    "res_id": msg.id,
                    "_order": msg.id,
                }
            )
        # Manual actions (Retry, Replay, Discard, Release) are written to the messages' chatter.
        return events + self._mfg_chatter_events(messages, "manual")

    def _mfg_chatter_events(self, records, kind):
        """The chatter of ``records`` (what people did and what changed, with who), creation
        notes left out; tracked changes are written as 'Field: old → new'."""
        notes = (
            self.env["mail.message"]
            .sudo()
            .search(
                [
                    ("model", "=", records._name),
                    ("res_id", "in", records.ids),
                    ("message_type", "in", ("comment", "notification")),
                ],
                order="id",
            )
        )
        by_id = {r.id: r for r in records}
        events = []
        for note in notes:
            record = by_id[note.res_id]
            text = html2plaintext(note.body or "").strip()
            if text == record._creation_message():
                text = ""
            changes = [
                f"{tv.field_id.field_description}: {tv._format_display_value(tv.field_id.ttype, new=False)[0] or '-'}"
                f" → {tv._format_display_value(tv.field_id.ttype, new=True)[0] or '-'}"
                for tv in note.tracking_value_ids
                if tv.field_id
            ]
            text = "; ".join(filter(None, [text, *changes]))
            if not text:
                continue
            events.append(
                {
                    "event_at": note.date,
                    "kind": kind,
                    "system": "odoo",
                    "backend_id": record.backend_id.id if "backend_id" in record._fields else False,
                    "summary": f"{record.display_name}: {text}"[:250],
                    "detail": text,
                    "state": record.state if "state" in record._fields else False,
                    "actor": note.author_id.name or note.create_uid.name,
                    "res_model": record._name,
                    "res_id": record.id,
                    "_order": note.id,
                }
            )
        return events

    def _mfg_events_stock(self):
        """Done move lines of the thread's lots, and the component lines consumed by the orders
        that produced them."""
        MoveLine = self.env["stock.move.line"].sudo()
        lines = MoveLine.search([("lot_id", "in", self.lot_ids.ids), ("state", "=", "done")], order="id")
        makers = lines.move_id.production_id
        lines |= MoveLine.search(
            [("move_id.raw_material_production_id", "in", makers.ids), ("state", "=", "done")]
        )
        events = []
        for line in lines.sorted("id"):
            move = line.move_id
            qty = f"{line.quantity:g} {line.product_uom_id.name}"
            lot = line.lot_id.name or "-"
            if move.production_id:
                kind = "production"
                summary = self.env._(
                    "%(order)s produced %(qty)s of %(product)s, lot %(lot)s",
                    order=move.production_id.name,
                    qty=qty,
                    product=line.product_id.display_name,
                    lot=lot,
                )
                record = move.production_id
            elif move.raw_material_production_id:
                kind = "consumption"
                summary = self.env._(
                    "%(order)s consumed %(qty)s of %(product)s, lot %(lot)s",
                    order=move.raw_material_production_id.name,
                    qty=qty,
                    product=line.product_id.display_name,
                    lot=lot,
                )
                record = move.raw_material_production_id
            else:
                customer = line.location_dest_id.usage == "customer"
                kind = "delivery" if customer else "transfer"
                partner = line.picking_id.partner_id.display_name
                partner = " (" + partner + ")" if partner else ""
                summary = self.env._(
                    "%(doc)s moved %(qty)s of lot %(lot)s from %(src)s to %(dest)s%(partner)s",
                    doc=line.picking_id.name or line.reference or "-",
                    qty=qty,
                    lot=lot,
                    src=line.location_id.display_name,
                    dest=line.location_dest_id.display_name,
                    partner=partner,
                )
                record = line.picking_id or line
            events.append(
                {
                    "event_at": line.date,
                    "kind": kind,
                    "system": "odoo",
                    "lot_id": line.lot_id.id,
                    "summary": summary,
                    "state": "done",
                    "actor": line.write_uid.name,
                    "res_model": record._name,
                    "res_id": record.id,
                    "_order": line.id,
                }
            )
        return events

    def _mfg_events_inspections(self):
        events = []
        Request = self.env["mfg.inspection.request"]
        for req in Request.search([("lot_id", "in", self.lot_ids.ids)], order="id"):
            events.append(
                {
                    "event_at": req.requested_at,
                    "kind": "inspection_request",
                    "system": req.backend_id.system_kind or "odoo",
                    "backend_id": req.backend_id.id,
                    "lot_id": req.lot_id.id,
                    "summary": self.env._("Inspection requested: %(name)s", name=req.name),
                    "state": req.state,
                    "actor": req.backend_id.name or req.create_uid.name,
                    "res_model": req._name,
                    "res_id": req.id,
                    "_order": req.id,
                }
            )
        Inspection = self.env["mfg.quality.inspection"]
        for insp in Inspection.search([("lot_id", "in", self.lot_ids.ids)], order="id"):
            results = ", ".join(f"{line.display_name}" for line in insp.line_ids)
            events.append(
                {
                    "event_at": insp.inspected_at,
                    "kind": "inspection",
                    "system": insp.backend_id.system_kind or "odoo",
                    "backend_id": insp.backend_id.id,
                    "lot_id": insp.lot_id.id,
                    "summary": self.env._(
                        "Inspection %(name)s: %(verdict)s",
                        name=insp.name,
                        verdict=dict(insp._fields["verdict"].selection)[insp.verdict],
                    ),
                    "detail": results or insp.note,
                    "state": insp.verdict,
                    "actor": ", ".join(filter(None, [insp.backend_id.name, insp.inspector]))
                    or insp.create_uid.name,
                    "res_model": insp._name,
                    "res_id": insp.id,
                    "_order": insp.id,
                }
            )
        return events

    def _mfg_events_holds(self):
        events = []
        Event = self.env["mfg.lot.hold.event"]
        actions = dict(Event._fields["action"].selection)
        for hold in Event.search([("lot_id", "in", self.lot_ids.ids)], order="id"):
            decided_by = hold.message_id.backend_id.name if hold.message_id else hold.user_id.name
            if hold.requested_by:
                decided_by = f"{decided_by} ({hold.requested_by})"
            events.append(
                {
                    "event_at": hold.event_at,
                    "kind": "hold" if hold.requested_state == "held" else "release",
                    "system": hold.message_id.backend_id.system_kind if hold.message_id else "odoo",
                    "backend_id": hold.message_id.backend_id.id,
                    "lot_id": hold.lot_id.id,
                    "summary": self.env._(
                        "Lot %(lot)s: %(action)s — %(reason)s",
                        lot=hold.lot_id.name,
                        action=actions[hold.action],
                        reason=hold.reason or "-",
                    ),
                    "detail": hold.note,
                    "state": hold.action,
                    "actor": decided_by,
                    "res_model": hold._name,
                    "res_id": hold.id,
                    "_order": hold.id,
                }
            )
        return events

    def _mfg_events_nonconformances(self):
        events = []
        NC = self.env["mfg.nonconformance"]
        ncs = NC.search([("lot_ids", "in", self.lot_ids.ids)], order="id")
        for nc in ncs:
            events.append(
                {
                    "event_at": nc.detected_at,
                    "kind": "nonconformance",
                    "system": nc.backend_id.system_kind or "odoo",
                    "backend_id": nc.backend_id.id,
                    "summary": self.env._(
                        "Nonconformance %(name)s (%(severity)s): %(defect)s, disposition %(disposition)s",
                        name=nc.name,
                        severity=nc.severity,
                        defect=nc.defect or nc.defect_code or "-",
                        disposition=dict(nc._fields["disposition"].selection)[nc.disposition],
                    ),
                    "detail": nc.description,
                    "state": nc.state,
                    "actor": nc.backend_id.name or nc.create_uid.name,
                    "res_model": nc._name,
                    "res_id": nc.id,
                    "_order": nc.id,
                }
            )
        # Dispositions, corrective actions, closure: the nonconformance's chatter.
        return events + self._mfg_chatter_events(ncs, "nonconformance")

    # ------------------------------------------------------------------ screen
    @api.model
    def _mfg_open(self, lots=None, productions=None, pickings=None, name=None):
        """The thread screen (list of events) of these records."""
        trace = self._mfg_build(lots, productions, pickings, name=name)
        action = self.env["ir.actions.act_window"]._for_xml_id("mfg_traceability.action_mfg_trace_event")
        action.update(
            {
                "name": self.env._("Traceability: %(name)s", name=trace.name),
                "domain": [("trace_id", "=", trace.id)],
                "context": {"create": False, "default_trace_id": trace.id},
            }
        )
        return action
