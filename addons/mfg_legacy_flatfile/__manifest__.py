# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Manufacturing Integration: Legacy Flat Files",
    "summary": "Drop-folder transport for legacy systems: CSV and fixed-width files",
    "version": "18.0.1.0.0",
    "category": "Manufacturing",
    "license": "LGPL-3",
    "author": "Manufacturing Integration Hub",
    "website": "https://github.com/mfg-integration-hub/mfg-integration-hub",
    "depends": ["mfg_integration_base"],
    "data": [
        "security/ir.model.access.csv",
        "security/rules.xml",
        "data/mfg_exchange_type_data.xml",
        "data/ir_cron_data.xml",
        "views/mfg_flatfile_format_views.xml",
        "views/mfg_flatfile_batch_views.xml",
        "views/mfg_stock_snapshot_views.xml",
        "views/mfg_backend_views.xml",
        "views/menus.xml",
    ],
    "installable": True,
    "application": False,
}
