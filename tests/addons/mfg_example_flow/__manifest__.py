# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Manufacturing Integration: example exchange types",
    "summary": "The template for a new exchange type: one inbound and one outbound, nothing else",
    "version": "18.0.1.0.0",
    "category": "Hidden/Tests",
    "license": "LGPL-3",
    "author": "Manufacturing Integration Hub",
    "website": "https://github.com/mfg-integration-hub/mfg-integration-hub",
    "maintainers": ["mfg-integration-hub"],
    "development_status": "Beta",
    "depends": ["mfg_integration_base"],
    "data": ["data/mfg_exchange_type_data.xml"],
    "installable": True,
    "application": False,
}
