from . import mfg_test_order
from . import mfg_transport_loopback
