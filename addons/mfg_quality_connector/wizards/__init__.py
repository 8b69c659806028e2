from . import mfg_lot_hold_wizard
