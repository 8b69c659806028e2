from . import mfg_analytics_target
from . import mfg_analytics_run
from . import mfg_analytics_watermark
from . import mfg_analytics_oee
from . import mfg_analytics_fpy
from . import mfg_analytics_sla
