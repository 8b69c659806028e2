from odoo.tests import BaseCase, tagged

from ..lib import quantity


@tagged("post_install", "-at_install")
class TestQuantityArithmetic(BaseCase):
    """lib.quantity: is a reported quantity kept by a unit's rounding and a precision?"""

    def test_conversion_noise_is_not_a_change(self):
        self.assertTrue(quantity.is_exact(2277 / 1000, rounding=0.001, digits=3))
        self.assertTrue(quantity.is_exact(1.037 + 1.037, rounding=0.001, digits=3))

    def test_unit_rounding_and_digits_each_count(self):
        self.assertFalse(quantity.is_exact(2.277, rounding=0.01, digits=3))
        self.assertFalse(quantity.is_exact(2.277, rounding=0.001, digits=2))
        self.assertEqual(quantity.round_quantity(2.277, 0.01, 3), 2.28)
        self.assertEqual(quantity.round_quantity(2.275, 0.01, 3), 2.28, "HALF-UP, as stock moves round")
        self.assertTrue(quantity.is_exact(12, rounding=1.0, digits=0))
        self.assertFalse(quantity.is_exact(12.5, rounding=1.0, digits=2))

    def test_digits_needed_and_change(self):
        self.assertEqual(quantity.digits_needed(2.277), 3)
        self.assertEqual(quantity.digits_needed(2277.0), 0)
        self.assertEqual(quantity.digits_needed(3.2505), 4)
        self.assertAlmostEqual(quantity.relative_change(2.277, 2.28), 0.131752, places=5)
        self.assertEqual(quantity.relative_change(0.003, 0.0), 100.0)
        self.assertEqual(quantity.relative_change(0.0, 0.0), 0.0)

    def test_format_for_people(self):
        self.assertEqual(
            [quantity.format_quantity(v) for v in (2277 / 1000, 2277.0, 2.28 - 2.277, 1e-05, -0.0)],
            ["2.277", "2277", "0.003", "0.00001", "0"],
        )
