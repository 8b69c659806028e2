from . import mfg_backend
from . import mfg_backend_flow
from . import mfg_message
from . import mfg_wire_b2mml
from . import mfg_b2mml_handlers
