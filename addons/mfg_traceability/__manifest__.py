# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Manufacturing Integration: Traceability",
    "summary": "The digital thread of a lot: genealogy both ways, every system's events, evidence packs, recall",
    "version": "18.0.1.0.0",
    "category": "Manufacturing",
    "license": "LGPL-3",
    "author": "Manufacturing Integration Hub",
    "website": "https://github.com/mfg-integration-hub/mfg-integration-hub",
    "maintainers": ["mfg-integration-hub"],
    "development_status": "Alpha",
    "depends": ["mfg_integration_base", "mfg_mes_connector", "mfg_quality_connector"],
    "data": [
        "security/ir.model.access.csv",
        "security/rules.xml",
        "report/evidence_pack_report.xml",
        "wizards/mfg_trace_event_views.xml",
        "views/mfg_evidence_pack_views.xml",
        "wizards/mfg_recall_views.xml",
        "views/traceability_button_views.xml",
        "views/menus.xml",
    ],
    "assets": {
        "web.assets_tests": ["mfg_traceability/static/tests/tours/*.js"],
    },
    "installable": True,
    "application": False,
}
