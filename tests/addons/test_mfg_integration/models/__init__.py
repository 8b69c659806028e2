from . import mfg_test_order
