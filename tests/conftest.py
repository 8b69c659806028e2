"""Fixtures of the end-to-end suite: the database installed by setup/test, Odoo as a server.

These tests talk to Odoo from outside (HTTP, XML-RPC, MQTT) and check the database with
plain SQL: nothing of Odoo is mocked. Run them through `setup/test`, which provides
MFG_TEST_DB, MFG_TEST_CONF and MFG_ODOO_BIN.
"""

import os
import xmlrpc.client

import pytest
from odoo_process import OdooServer
from sql_support import Sql, env_dsn


def _need(var):
    value = os.environ.get(var)
    if not value:
        pytest.exit(f"{var} is not set: run the suite through setup/test", returncode=4)
    return value


@pytest.fixture(scope="session")
def odoo_settings(tmp_path_factory):
    return {
        "db": _need("MFG_TEST_DB"),
        "conf": _need("MFG_TEST_CONF"),
        "odoo_bin": _need("MFG_ODOO_BIN"),
        "log_dir": tmp_path_factory.mktemp("odoo-logs"),
    }


@pytest.fixture(scope="session")
def odoo_server(odoo_settings):
    """One Odoo server (threaded mode, queue_job runner on) for the whole session."""
    server = OdooServer(
        odoo_settings["odoo_bin"],
        odoo_settings["conf"],
        odoo_settings["db"],
        odoo_settings["log_dir"],
        extra_args=["--workers=0", "--max-cron-threads=1"],
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def db_dsn(odoo_settings):
    return env_dsn(odoo_settings["db"])


@pytest.fixture
def sql(db_dsn):
    """Run one SQL query on the test database in its own committed transaction.

    Reconnects when the connection was lost (the fault tests restart PostgreSQL).
    """
    run = Sql(db_dsn)
    yield run
    run.close()


@pytest.fixture(scope="session")
def odoo_rpc(odoo_server, odoo_settings):
    """execute_kw as the admin user of the test database."""
    common = xmlrpc.client.ServerProxy(f"{odoo_server.base_url}/xmlrpc/2/common")
    uid = common.authenticate(odoo_settings["db"], "admin", "admin", {})
    assert uid, "admin/admin cannot log in to the test database"
    models = xmlrpc.client.ServerProxy(f"{odoo_server.base_url}/xmlrpc/2/object", allow_none=True)

    def call(model, method, *args, **kwargs):
        return models.execute_kw(odoo_settings["db"], uid, "admin", model, method, list(args), kwargs)

    return call


@pytest.fixture(scope="session")
def odoo_registry(odoo_settings):
    """The Odoo registry of the test database, loaded in this process by pytest-odoo."""
    import odoo

    return odoo.modules.registry.Registry(odoo_settings["db"])


@pytest.fixture
def odoo_env(odoo_registry):
    """A context manager giving a superuser env in its own cursor, committed on exit."""
    import contextlib

    import odoo

    @contextlib.contextmanager
    def make(uid=odoo.SUPERUSER_ID, context=None):
        with odoo_registry.cursor() as cr:
            yield odoo.api.Environment(cr, uid, dict(context or {}))

    return make
