from . import mfg_code_mapping
from . import mrp_production
from . import mfg_mes_handlers
from . import mfg_backend_alert
