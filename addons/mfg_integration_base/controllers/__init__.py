from . import ingest
from . import openapi
