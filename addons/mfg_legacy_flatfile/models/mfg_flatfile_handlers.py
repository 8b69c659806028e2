from odoo import Command, models

from odoo.addons.mfg_integration_base.exceptions import MfgPermanentError
from odoo.addons.mfg_integration_base.lib.dates import parse_rfc3339


class MfgFlatfileHandlers(models.AbstractModel):
    """Handlers of the legacy exchange types (legacy.*.v1): stock movements, cycle counts, stock
    snapshots. Each returns the records it created or changed (linked on the message)."""

    _name = "mfg.flatfile.handlers"
    _description = "Legacy flat-file message handlers"
    _inherit = ["mfg.handler.mixin"]

    def _mfg_lot(self, backend, product, name, create=False):
        if product.tracking == "none":
            return self.env["stock.lot"]
        if not name:
            raise MfgPermanentError(
                self.env._(
                    "Field 'lot': product %(p)s is tracked by lot/serial, the line gives none.",
                    p=product.default_code or product.display_name,
                )
            )
        lot = backend._mfg_resolve("lot", name, required=not create, product=product, path="/lot")
        if not lot:
            lot = self.env["stock.lot"].create(
                {"name": name, "product_id": product.id, "company_id": backend.company_id.id}
            )
        return lot

    def _mfg_quantity(self, message, product, quantity, field, uom_code=None):
        """The line's ``field`` quantity (in unit ``uom_code``, empty = the product's unit) as
        booked in that unit: never changed without notice (see mfg.quantity in the base).
        Returns (unit, quantity)."""
        uom = message.backend_id._mfg_resolve("uom", uom_code) if uom_code else product.uom_id
        booked = self.env["mfg.quantity"]._mfg_book_quantity(
            message,
            product,
            quantity,
            uom,
            uom,
            path=f"/{field}",
            uom_code=uom_code,
            uom_path="/uom",
        )
        return uom, booked

    # ------------------------------------------------------------------ stock movements
    def _mfg_handle_legacy_stock_movement(self, message, data):
        """A receipt or a transfer the plant made: one done stock move (with its lot)."""
        backend = message.backend_id
        product = backend._mfg_resolve("product", data["product"])
        source = backend._mfg_resolve("location", data["from_location"])
        dest = backend._mfg_resolve("location", data["to_location"])
        uom, quantity = self._mfg_quantity(message, product, data["quantity"], "quantity", data.get("uom"))
        creates_lots = source.usage in ("supplier", "production", "inventory")
        lot = self._mfg_lot(backend, product, data.get("lot"), create=creates_lots)
        Move = self.env["stock.move"].sudo()
        move = Move.create(
            {
                "name": data.get("reference") or self.env._("Legacy movement %(f)s", f=message.name),
                "origin": data.get("reference"),
                "product_id": product.id,
                "product_uom": uom.id,
                "product_uom_qty": quantity,
                "location_id": source.id,
                "location_dest_id": dest.id,
                "company_id": backend.company_id.id,
            }
        )
        move._action_confirm()
        move.move_line_ids.unlink()
        move.write(
            {
                "move_line_ids": [
                    Command.create(
                        {
                            "product_id": product.id,
                            "product_uom_id": uom.id,
                            "quantity": quantity,
                            "location_id": source.id,
                            "location_dest_id": dest.id,
                            "lot_id": lot.id or False,
                            "company_id": backend.company_id.id,
                        }
                    )
                ],
                "picked": True,
            }
        )
        move._action_done()
        if data.get("moved_at"):
            moment = parse_rfc3339(data["moved_at"], "/moved_at")
            move.write({"date": moment})
            move.move_line_ids.write({"date": moment})
        return move

    # ------------------------------------------------------------------ cycle counts
    def _mfg_handle_legacy_cycle_count(self, message, data):
        """A counted quantity: an applied inventory adjustment (Odoo's own, with its moves)."""
        backend = message.backend_id
        product = backend._mfg_resolve("product", data["product"])
        location = backend._mfg_resolve("location", data["location"])
        _uom, counted = self._mfg_quantity(message, product, data["counted_quantity"], "counted_quantity")
        lot = self._mfg_lot(backend, product, data.get("lot"), create=True)
        Quant = self.env["stock.quant"].sudo().with_context(inventory_mode=True)
        quant = Quant.create(
            {
                "product_id": product.id,
                "location_id": location.id,
                "lot_id": lot.id or False,
                "inventory_quantity": counted,
            }
        )
        quant.with_context(
            inventory_name=self.env._("Legacy count %(m)s", m=message.name)
        ).action_apply_inventory()
        return quant

    # ------------------------------------------------------------------ stock snapshots
    def _mfg_handle_legacy_stock_snapshot(self, message, data):
        """One line of the plant's stock list; the reconciliation compares the whole list."""
        backend = message.backend_id
        product = backend._mfg_resolve("product", data["product"])
        location = backend._mfg_resolve("location", data["location"])
        _uom, quantity = self._mfg_quantity(message, product, data["quantity"], "quantity")
        lot = self.env["stock.lot"]
        if data.get("lot"):
            lot = backend._mfg_resolve("lot", data["lot"], required=False, product=product) or lot
        Snapshot = self.env["mfg.stock.snapshot"].sudo()
        reference = data.get("snapshot") or message.correlation_id or message.name
        # Lines of one snapshot may be applied by two drains at once: the first creates the
        # snapshot; the other waits for it and is retried (a serialization failure is transient).
        self.env.cr.execute(
            """INSERT INTO mfg_stock_snapshot (name, backend_id, company_id, create_uid, create_date,
                                               write_uid, write_date)
               VALUES (%s, %s, %s, %s, now() at time zone 'UTC', %s, now() at time zone 'UTC')
               ON CONFLICT (backend_id, name) DO NOTHING""",
            (reference, backend.id, backend.company_id.id, self.env.uid, self.env.uid),
        )
        snapshot = Snapshot.search([("backend_id", "=", backend.id), ("name", "=", reference)], limit=1)
        line = snapshot.line_ids.search(
            [
                ("snapshot_id", "=", snapshot.id),
                ("product_id", "=", product.id),
                ("location_id", "=", location.id),
                ("lot_name", "=", data.get("lot") or False),
            ],
            limit=1,
        )
        if line:
            line.quantity += quantity
        else:
            line = line.create(
                {
                    "snapshot_id": snapshot.id,
                    "product_id": product.id,
                    "location_id": location.id,
                    "lot_id": lot.id or False,
                    "lot_name": data.get("lot") or False,
                    "quantity": quantity,
                }
            )
        snapshot.compared_at = False  # to be compared again
        return line
