import logging

from odoo import api, models

from ..exceptions import MfgPermanentError
from ..lib.quantity import (
    digits_needed,
    format_quantity,
    is_exact,
    relative_change,
    round_quantity,
)

_logger = logging.getLogger(__name__)

PRECISION = "Product Unit of Measure"


class MfgQuantity(models.AbstractModel):
    """The one place where a quantity a plant reported becomes a quantity Odoo books.

    Handlers call ``_mfg_book_quantity`` for every reported quantity (consumed, produced,
    scrapped, moved, counted): it converts the quantity into the unit Odoo books it in and
    makes sure it is not changed without notice. Either it is represented exactly (by the
    target unit, by the product's stock unit and by the 'Product Unit of Measure' decimal
    precision), or the message fails with an error naming the rounding to configure, or,
    when the backend allows a rounding tolerance and the change is within it, the rounded
    quantity is booked and the difference recorded on the message (field and chatter)."""

    _name = "mfg.quantity"
    _description = "Integration: reported quantities"

    @api.model
    def _mfg_book_quantity(
        self, message, product, quantity, from_uom, to_uom=None, path=None, uom_code=None, uom_path=None
    ):
        """``quantity`` reported in ``from_uom`` as the quantity to book in ``to_uom`` (default:
        the product's unit). Raises MfgPermanentError when the units do not measure the same
        thing (at ``uom_path``), or when booking would change the quantity beyond the backend's
        tolerance (at ``path``, the quantity's JSON pointer); ``uom_code`` is the plant's unit
        code, for the error text."""
        to_uom = to_uom or product.uom_id
        uom_label = uom_code or from_uom.name
        if from_uom.category_id != to_uom.category_id or to_uom.category_id != product.uom_id.category_id:
            raise MfgPermanentError(
                self.env._(
                    "Unit '%(uom)s' cannot measure product %(product)s (unit %(to)s, category %(cat)s): "
                    "send a unit of the same category or fix the 'uom' code mapping.",
                    uom=uom_label,
                    product=product.display_name,
                    to=product.uom_id.name,
                    cat=product.uom_id.category_id.name,
                ),
                path=uom_path or path,
            )
        digits = self.env["decimal.precision"].precision_get(PRECISION)
        # The quantity in every unit it is stored in: the booked line's unit and the stock
        # (quant) unit of the product.
        worst = None
        for uom in to_uom | product.uom_id:
            exact = from_uom._compute_quantity(quantity, uom, round=False)
            stored = round_quantity(exact, uom.rounding, digits)
            change = relative_change(exact, stored)
            if change and (worst is None or change > worst[0]):
                worst = (change, uom, exact, stored)
        exact = from_uom._compute_quantity(quantity, to_uom, round=False)
        booked = round_quantity(exact, to_uom.rounding, digits)
        if worst is None:
            return booked
        change, uom, unit_exact, unit_stored = worst
        backend = message.backend_id
        tolerance = max(backend.quantity_tolerance or 0.0, 0.0)
        values = {
            "product": product.display_name,
            "qty": format_quantity(quantity),
            "uom": uom_label,
            "exact": format_quantity(unit_exact),
            "stored": format_quantity(unit_stored),
            "unit": uom.name,
            "diff": format_quantity(unit_stored - unit_exact),
            "rounding": format_quantity(uom.rounding),
            "digits": digits,
            "change": format_quantity(round(change, 4)),
            "backend": backend.code,
        }
        if tolerance and change <= tolerance:
            self._mfg_record_rounding(message, values, tolerance, path)
            return booked
        raise MfgPermanentError(self._mfg_rounding_error(values, uom, unit_exact, digits), path=path)

    def _mfg_rounding_error(self, values, uom, exact, digits):
        needed = digits_needed(exact)
        fixes = []
        if not is_exact(exact, uom.rounding):
            fixes.append(
                self.env._(
                    "set the rounding precision of unit %(unit)s to %(rounding)s or finer "
                    "(Inventory > Configuration > UoM Categories)",
                    unit=uom.name,
                    rounding=format_quantity(10.0**-needed),
                )
            )
        if not is_exact(exact, digits=digits):
            fixes.append(
                self.env._(
                    "set the decimal precision '%(precision)s' to %(digits)s digits or more "
                    "(Settings > Technical > Decimal Accuracy, in developer mode)",
                    precision=PRECISION,
                    digits=needed,
                )
            )
        return self.env._(
            "Quantity %(qty)s %(uom)s of product %(product)s is %(exact)s %(unit)s, which Odoo would book as "
            "%(stored)s %(unit)s (unit %(unit)s rounds to %(rounding)s, decimal precision "
            "'%(precision)s' keeps %(digits)s digits): the reported quantity would change by %(diff)s "
            "%(unit)s. To book it exactly, %(fixes)s, then retry the message; or allow a quantity "
            "rounding tolerance on backend %(backend)s.",
            precision=PRECISION,
            fixes=self.env._(" and ").join(fixes),
            **values,
        )

    def _mfg_record_rounding(self, message, values, tolerance, path):
        """The change is within the backend's tolerance: keep it on the message (a field a user
        sees and searches, and a chatter note)."""
        # (an f-string inside the _() call would break the term extraction of babel: no .pot)
        where = f"{path}: " if path else ""
        note = self.env._(
            "%(path)s%(qty)s %(uom)s of %(product)s booked as %(stored)s %(unit)s instead of %(exact)s "
            "%(unit)s (difference %(diff)s %(unit)s, %(change)s %%; unit rounding %(rounding)s, "
            "%(digits)s digits; tolerance %(tolerance)s %%).",
            path=where,
            tolerance=format_quantity(tolerance),
            **values,
        )
        _logger.info("Message %s: %s", message.name, note)
        message = message.sudo()  # the pipeline notes on its own record, whoever drains
        message.quantity_rounding = "\n".join(filter(None, [message.quantity_rounding, note]))
        message.message_post(body=note, message_type="comment", subtype_xmlid="mail.mt_note")
