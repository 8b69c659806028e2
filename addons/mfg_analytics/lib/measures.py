"""Derived measures (OEE, first-pass yield, integration SLA) computed from the exported facts,
never from Odoo's live tables: the SQL files of ``sql/`` run on DuckDB over the Parquet files,
or unchanged on PostgreSQL over the analytics schema."""

import glob
import os
import tempfile

import pyarrow as pa
from psycopg2 import sql as pgsql

from .facts import FACT_TABLES

SQL_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "sql")
MEASURES = ("oee", "fpy", "sla")
DUCKDB_MEMORY_LIMIT = "256MB"


def measure_sql(name):
    with open(os.path.join(SQL_DIR, f"{name}.sql"), encoding="utf-8") as f:
        return f.read()


def _render(text, relations):
    for table, relation in relations.items():
        text = text.replace("{" + table + "}", relation)
    return text


def parquet_files(folder, table):
    """The finished Parquet files of ``table`` (temporary files are hidden and never match)."""
    return sorted(glob.glob(os.path.join(glob.escape(folder), table, "day=*", "*.parquet")))


def duckdb_connection(folder):
    """A DuckDB connection with one view per fact table over the Parquet files of ``folder``
    (an empty table of the right schema when nothing was exported yet)."""
    import duckdb

    # Bounded like the export: DuckDB spills to a temporary folder beyond this limit.
    con = duckdb.connect(config={"memory_limit": DUCKDB_MEMORY_LIMIT, "threads": 2})
    con.execute(f"SET temp_directory = '{os.path.join(tempfile.gettempdir(), 'mfg_analytics_duckdb')}'")
    for name, table in FACT_TABLES.items():
        files = parquet_files(folder, name)
        if files:
            listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            con.execute(
                f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet([{listing}], union_by_name = true)'
            )
        else:
            con.register(f"_empty_{name}", pa.Table.from_pylist([], schema=table.schema))
            con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM "_empty_{name}"')
    return con


def _rows(cursor_description, rows):
    names = [d[0] for d in cursor_description]
    return [dict(zip(names, row, strict=True)) for row in rows]


def compute_duckdb(folder, names=MEASURES):
    """{measure: [row dicts]} computed by DuckDB over the Parquet files."""
    con = duckdb_connection(folder)
    try:
        result = {}
        relations = {name: f'"{name}"' for name in FACT_TABLES}
        for name in names:
            cur = con.execute(_render(measure_sql(name), relations))
            result[name] = _rows(cur.description, cur.fetchall())
        return result
    finally:
        con.close()


def compute_postgres(cnx, schema, names=MEASURES):
    """{measure: [row dicts]} computed by PostgreSQL over the analytics schema (tables missing
    because nothing was exported yet count as empty)."""
    result = {}
    with cnx.cursor() as cr:
        cr.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))
        existing = {r[0] for r in cr.fetchall()}
        relations = {}
        for name, table in FACT_TABLES.items():
            if name in existing:
                relations[name] = pgsql.Identifier(schema, name).as_string(cr)
            else:
                cols = ", ".join(f'CAST(NULL AS {_pg(t)}) AS "{n}"' for n, t, *_r in table.all_columns)
                relations[name] = f"(SELECT {cols} WHERE FALSE)"
        for name in names:
            cr.execute(_render(measure_sql(name), relations))
            result[name] = _rows(cr.description, cr.fetchall())
    cnx.rollback()
    return result


def _pg(arrow_type):
    from .postgres_sink import pg_type

    return pg_type(arrow_type)
