from . import mfg_backend
from . import mfg_sparkplug_node
from . import mfg_sparkplug_rule
from . import mrp_workcenter
