from . import mfg_code_mapping
from . import mrp_production
from . import mfg_mes_handlers
from . import mfg_mes_shop_floor_handlers
from . import mfg_backend
from . import product_product
from . import mrp_bom
from . import mfg_backend_alert
