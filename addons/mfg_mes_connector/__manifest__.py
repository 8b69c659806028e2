# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Manufacturing Integration: MES Connector",
    "summary": "MES exchange types: work orders out, production facts back into Odoo",
    "version": "18.0.1.2.0",
    "category": "Manufacturing",
    "license": "LGPL-3",
    "author": "Manufacturing Integration Hub",
    "website": "https://github.com/mfg-integration-hub/mfg-integration-hub",
    "maintainers": ["mfg-integration-hub"],
    "development_status": "Beta",
    "depends": ["mfg_integration_base"],
    "data": [
        "data/mfg_exchange_type_data.xml",
        "views/mrp_production_views.xml",
        "wizards/change_production_qty_views.xml",
        "views/mrp_bom_views.xml",
        "views/mfg_backend_views.xml",
        "views/product_views.xml",
    ],
    "demo": ["demo/mfg_demo_plant_flows.xml"],
    "installable": True,
    "application": False,
}
