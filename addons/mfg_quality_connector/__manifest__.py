# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Manufacturing Integration: Quality Connector",
    "summary": "Quality contracts: inspection results, nonconformances and lot holds that stop shipment",
    "version": "18.0.1.0.0",
    "category": "Manufacturing",
    "license": "LGPL-3",
    "author": "Manufacturing Integration Hub",
    "website": "https://github.com/mfg-integration-hub/mfg-integration-hub",
    "depends": ["mfg_integration_base"],
    "data": [
        "security/ir.model.access.csv",
        "security/rules.xml",
        "data/ir_sequence_data.xml",
        "data/mfg_exchange_type_data.xml",
        "views/mfg_quality_inspection_views.xml",
        "views/mfg_nonconformance_views.xml",
        "views/stock_lot_views.xml",
        "views/menus.xml",
    ],
    "installable": True,
    "application": False,
}
