# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Manufacturing Integration Base",
    "summary": "Governed message pipeline between plant systems and Odoo",
    "version": "18.0.1.0.0",
    "category": "Manufacturing",
    "license": "LGPL-3",
    "author": "Manufacturing Integration Hub",
    "website": "https://github.com/mfg-integration-hub/mfg-integration-hub",
    "depends": ["queue_job", "mail", "stock", "mrp"],
    "external_dependencies": {"python": ["jsonschema", "paho-mqtt", "requests"]},
    "data": [],
    "installable": True,
    "application": True,
}
