from . import mes_sync
