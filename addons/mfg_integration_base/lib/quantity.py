"""Exactness of a reported quantity once Odoo stores it (pure arithmetic, no ORM).

Odoo keeps a quantity at its unit's rounding (``uom.uom.rounding``, HALF-UP when stock is
moved) and at the decimal precision of its field ('Product Unit of Measure' digits). A
quantity a plant reports must survive both unchanged, or the change must be made visible:
``models/mfg_quantity.py`` decides which, with these helpers.
"""

from odoo.tools.float_utils import float_round

# Float noise of a unit conversion (2277 / 1000 = 2.2769999999999997) is not a change.
RELATIVE_EPSILON = 1e-9
MAX_DIGITS = 15


def round_quantity(value, rounding=None, digits=None):
    """``value`` as Odoo stores it: HALF-UP to the unit's ``rounding``, then to ``digits``."""
    if rounding:
        value = float_round(value, precision_rounding=rounding, rounding_method="HALF-UP")
    if digits is not None:
        value = float_round(value, precision_digits=digits, rounding_method="HALF-UP")
    return value


def same_quantity(a, b):
    """True when ``a`` and ``b`` are the same quantity up to float noise."""
    return abs(a - b) <= RELATIVE_EPSILON * max(1.0, abs(a), abs(b))


def is_exact(value, rounding=None, digits=None):
    """True when storing ``value`` at ``rounding`` and ``digits`` does not change it."""
    return same_quantity(round_quantity(value, rounding, digits), value)


def digits_needed(value):
    """The fewest decimals that represent ``value`` exactly (``MAX_DIGITS`` at most)."""
    for digits in range(MAX_DIGITS + 1):
        if same_quantity(round(value, digits), value):
            return digits
    return MAX_DIGITS


def relative_change(value, stored):
    """How much storing changed ``value``, in percent of it (0 for an unchanged zero)."""
    if same_quantity(value, stored):
        return 0.0
    if not value:
        return float("inf")
    return abs(stored - value) / abs(value) * 100.0


def format_quantity(value):
    """A quantity for a person: no float noise, no trailing zeros (2.277, 2277, 0.003)."""
    text = f"{value:.12g}"
    if "e" in text:
        text = f"{value:.{MAX_DIGITS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
