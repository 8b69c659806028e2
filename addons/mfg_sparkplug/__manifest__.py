# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Manufacturing Integration: Sparkplug B",
    "summary": "Machine and SCADA data over MQTT Sparkplug B, aggregated into MES facts",
    "version": "18.0.1.0.0",
    "category": "Manufacturing",
    "license": "LGPL-3",
    "author": "Manufacturing Integration Hub",
    "website": "https://github.com/mfg-integration-hub/mfg-integration-hub",
    "maintainers": ["mfg-integration-hub"],
    "development_status": "Alpha",
    "depends": ["mfg_integration_base", "mrp"],
    "external_dependencies": {"python": ["protobuf", "paho-mqtt"]},
    "data": [
        "security/ir.model.access.csv",
        "security/rules.xml",
        "views/mfg_sparkplug_node_views.xml",
        "views/mfg_sparkplug_rule_views.xml",
        "views/mfg_backend_views.xml",
        "views/menus.xml",
    ],
    "installable": True,
    "application": False,
}
