"""The transports of the base, one package each (the interface: models/mfg_transport.py; REST
inbound: controllers/ingest.py + models/mfg_transport_rest.py; files: mfg_legacy_flatfile).
Imported after models/: their models extend mfg.transport, mfg.backend and mfg.backend.flow."""

from . import http
from . import mqtt
