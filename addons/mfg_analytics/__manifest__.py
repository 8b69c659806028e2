# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Manufacturing Integration: Analytics",
    "summary": "Curated manufacturing, quality and integration facts exported off the hot path "
    "(Parquet / analytics PostgreSQL), with OEE, first-pass yield and flow SLA",
    "version": "18.0.1.0.0",
    "category": "Manufacturing",
    "license": "LGPL-3",
    "author": "Manufacturing Integration Hub",
    "website": "https://github.com/mfg-integration-hub/mfg-integration-hub",
    "maintainers": ["mfg-integration-hub"],
    "development_status": "Alpha",
    "depends": ["mfg_integration_base", "mfg_mes_connector", "mfg_quality_connector"],
    "external_dependencies": {"python": ["pyarrow", "duckdb"]},
    "data": [
        "security/ir.model.access.csv",
        "security/rules.xml",
        "data/queue_job_data.xml",
        "data/ir_cron_data.xml",
        "views/mfg_analytics_target_views.xml",
        "views/mfg_analytics_run_views.xml",
        "views/mfg_analytics_oee_views.xml",
        "views/mfg_analytics_fpy_views.xml",
        "views/mfg_analytics_sla_views.xml",
        "views/menus.xml",
    ],
    "installable": True,
    "application": False,
}
