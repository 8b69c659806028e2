"""The foundation holds: Odoo 18 serves our database with the addons and the job runner."""

import time
import urllib.request

ADDONS = {
    "mfg_integration_base",
    "mfg_mes_connector",
    "mfg_quality_connector",
    "mfg_legacy_flatfile",
    "mfg_traceability",
}


def test_login_page_is_served(odoo_server):
    with urllib.request.urlopen(odoo_server.base_url + "/web/login", timeout=30) as resp:
        assert resp.status == 200
        body = resp.read().decode()
    assert 'name="login"' in body, "the login form is missing from /web/login"


def test_project_addons_are_installed(odoo_rpc):
    mods = odoo_rpc(
        "ir.module.module",
        "search_read",
        [["name", "in", sorted(ADDONS | {"queue_job"})]],
        fields=["name", "state", "latest_version"],
    )
    states = {m["name"]: m["state"] for m in mods}
    assert states == {name: "installed" for name in ADDONS | {"queue_job"}}
    assert all(m["latest_version"].startswith("18.0.") for m in mods)


def test_queue_job_runner_is_started(odoo_server, odoo_settings):
    """queue_job is a server-wide module: its job runner must serve our database."""
    deadline = time.monotonic() + 60
    expected = f"queue job runner ready for db {odoo_settings['db']}"
    while time.monotonic() < deadline and expected not in odoo_server.log_text():
        time.sleep(0.5)
    assert expected in odoo_server.log_text(), odoo_server.log_tail()
