from . import ingest
