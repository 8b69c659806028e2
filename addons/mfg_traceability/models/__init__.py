from . import mfg_traceability
from . import mfg_traceability_mixin
from . import mfg_evidence_pack
from . import stock_lot
from . import mrp_production
from . import stock_picking
from . import product_product
