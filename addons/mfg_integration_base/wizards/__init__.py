from . import mfg_message_discard_wizard
from . import mfg_api_key_wizard
from . import mfg_incident_fix
from . import mfg_mqtt_bridge_wizard
