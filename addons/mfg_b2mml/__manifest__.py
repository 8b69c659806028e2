# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Manufacturing Integration: B2MML wire format",
    "summary": "Plant systems send ISA-95 B2MML XML (V0401 to V0700); Odoo reads it as canonical facts",
    "version": "18.0.1.1.0",
    "category": "Manufacturing",
    "license": "LGPL-3",
    "author": "Manufacturing Integration Hub",
    "website": "https://github.com/mfg-integration-hub/mfg-integration-hub",
    "maintainers": ["mfg-integration-hub"],
    "development_status": "Alpha",
    "depends": ["mfg_integration_base"],
    "external_dependencies": {"python": ["lxml"]},
    "data": [
        "data/mfg_exchange_type_data.xml",
        "views/mfg_backend_views.xml",
    ],
    "installable": True,
    "application": False,
}
