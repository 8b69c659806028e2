from . import mfg_message_discard_wizard
