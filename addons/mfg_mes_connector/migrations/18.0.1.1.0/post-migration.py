"""18.0.1.1.0: mes.production_completion.v1 accepts 'serials'. Exchange types are loaded with
noupdate (administrators tune retry policies and SLAs), so the schema is refreshed here from
its file; nothing else of the record changes."""

from odoo import SUPERUSER_ID, api
from odoo.tools.misc import file_open

SCHEMAS = {
    "exchange_type_production_completion": "mfg_mes_connector/schemas/mes.production_completion.v1.json"
}


def migrate(cr, version):
    env = api.Environment(cr, SUPERUSER_ID, {})
    for xmlid, path in SCHEMAS.items():
        etype = env.ref(f"mfg_mes_connector.{xmlid}", raise_if_not_found=False)
        if etype:
            with file_open(path) as schema:
                etype.json_schema = schema.read()
