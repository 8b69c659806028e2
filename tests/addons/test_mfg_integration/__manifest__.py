# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Manufacturing Integration: pipeline test exchange types",
    "summary": "Test-only exchange types and handlers of the integration pipeline (installed by setup/test only)",
    "version": "18.0.1.0.0",
    "category": "Hidden/Tests",
    "license": "LGPL-3",
    "author": "Manufacturing Integration Hub",
    "website": "https://github.com/mfg-integration-hub/mfg-integration-hub",
    "depends": ["mfg_integration_base", "mfg_mes_connector", "mfg_legacy_flatfile"],
    "data": [
        "security/ir.model.access.csv",
        "data/test_flows.xml",
    ],
    "installable": True,
}
