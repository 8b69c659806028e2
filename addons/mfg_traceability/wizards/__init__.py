from . import mfg_trace
from . import mfg_trace_event
from . import mfg_recall
from . import mfg_genealogy
