"""PostgreSQL target: one table per fact table in a schema of a separate analytics database.

Rows are appended with ``execute_values`` in the sink's own connection and committed when the
run finishes (just before Odoo commits the run's state); the rows of a run that did not
finish are deleted by ``run_id`` at the next run. Tables are created when missing; a column
added to a fact table later is added to its table (``ADD COLUMN IF NOT EXISTS``).
"""

import psycopg2
import pyarrow as pa
from psycopg2 import sql
from psycopg2.extensions import parse_dsn
from psycopg2.extras import execute_values

CONNECT_TIMEOUT = 10


def pg_type(arrow_type):
    if pa.types.is_int32(arrow_type):
        return "integer"
    if pa.types.is_int64(arrow_type):
        return "bigint"
    if pa.types.is_floating(arrow_type):
        return "double precision"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_date(arrow_type):
        return "date"
    return "text"


def check_dsn(dsn, odoo_db, odoo_host=None, odoo_port=None):
    """A problem with ``dsn`` as an analytics target, in words, or None. Refused: what
    libpq cannot parse, and Odoo's own database (analytics must not be queried there)."""
    try:
        params = parse_dsn(dsn)
    except psycopg2.ProgrammingError as exc:
        return f"it is not a PostgreSQL connection string ({str(exc).strip()})"
    dbname = params.get("dbname")
    if not dbname:
        return "it names no database (dbname=…)"
    host = params.get("host") or "localhost"
    same_host = host in {odoo_host or "localhost", "localhost", "127.0.0.1", "::1", ""} or host.startswith(
        "/"
    )
    same_port = str(params.get("port") or 5432) == str(odoo_port or 5432)
    if dbname == odoo_db and same_host and same_port:
        return f"database {dbname!r} is Odoo's own database: use a separate analytics database"
    return None


class PostgresSink:
    def __init__(self, dsn, schema, run_id):
        self.dsn = dsn
        self.schema = schema
        self.run_id = run_id
        self._cnx = None
        self._ready = set()
        self.checkpointed = False  # a checkpoint of this run was committed

    @property
    def cnx(self):
        if self._cnx is None:
            self._cnx = psycopg2.connect(
                self.dsn, connect_timeout=CONNECT_TIMEOUT, application_name="mfg_analytics"
            )
            with self._cnx.cursor() as cr:
                cr.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
        return self._cnx

    def _ensure(self, cr, table):
        if table.name in self._ready:
            return
        ident = sql.Identifier(self.schema, table.name)
        cols = [
            sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(pg_type(t))) for n, t, *_r in table.all_columns
        ]
        cr.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(ident, sql.SQL(", ").join(cols)))
        for name, typ, *_r in table.all_columns:
            cr.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
                    ident, sql.Identifier(name), sql.SQL(pg_type(typ))
                )
            )
        cr.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({}, version)").format(
                sql.Identifier(f"{table.name}_key_version_idx"), ident, sql.Identifier(table.key)
            )
        )
        self._ready.add(table.name)

    def add(self, table, rows):
        with self.cnx.cursor() as cr:
            self._ensure(cr, table)
            names = [n for n, *_r in table.all_columns]
            query = sql.SQL("INSERT INTO {} ({}) VALUES %s").format(
                sql.Identifier(self.schema, table.name), sql.SQL(", ").join(map(sql.Identifier, names))
            )
            execute_values(cr, query.as_string(cr), rows, page_size=1000)

    def finish(self):
        if self._cnx is not None:
            self._cnx.commit()

    def checkpoint(self):
        self.finish()

    def abort(self):
        """Undo what this run wrote since its last checkpoint (all of it without one)."""
        if self._cnx is not None:
            self._cnx.rollback()
        if not self.checkpointed:
            self.cleanup_run(self.run_id)

    def cleanup_run(self, run_id, tables=()):
        """Delete the rows of an unfinished run from every fact table of the schema."""
        with self.cnx.cursor() as cr:
            cr.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (self.schema,)
            )
            existing = {r[0] for r in cr.fetchall()}
            for name in existing & set(tables or existing):
                cr.execute(
                    sql.SQL("DELETE FROM {} WHERE run_id = %s").format(sql.Identifier(self.schema, name)),
                    (run_id,),
                )
        self._cnx.commit()

    def close(self):
        if self._cnx is not None:
            self._cnx.close()
            self._cnx = None
