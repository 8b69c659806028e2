"""Parquet target: ``<folder>/<table>/day=YYYY-MM-DD/<run>-<n>.parquet``.

The folder lies under the base's ``file_roots`` and is opened through ``safe_files`` (no
symbolic link followed); each file is written under a hidden temporary name, flushed and
renamed, so a reader never sees half a file. Rows are buffered per (table, day) as Arrow
tables — at most ``max_buffer_rows`` in all, which bounds the memory — and a day's buffer
becomes one file when it reaches ``rows_per_file`` or when the run ends.
"""

import os
import re

import pyarrow as pa
import pyarrow.parquet as pq

from odoo.addons.mfg_integration_base.lib import safe_files

FILE_RE = re.compile(r"^(\d+)-(\d+)\.parquet$")


def partition(day):
    return f"day={day.isoformat()}" if day else "day=unknown"


class ParquetSink:
    def __init__(
        self,
        folder,
        run_id,
        rows_per_file=100_000,
        row_group_size=50_000,
        max_buffer_rows=200_000,
        roots=None,
    ):
        self.folder = folder
        self.run_id = run_id
        self.rows_per_file = rows_per_file
        self.row_group_size = row_group_size
        self.max_buffer_rows = max_buffer_rows
        self.roots = roots
        self.buffers = {}  # (table name, day) -> [pa.Table]
        self.buffered = {}  # (table name, day) -> rows
        self.tables = {}
        self.files = []  # paths written by this run
        self.part = 0  # n of the last file written (one counter per run)
        self.committed_part = 0  # files up to this n belong to a committed checkpoint

    def add(self, table, rows):
        self.tables[table.name] = table
        by_day = {}
        for row in rows:
            by_day.setdefault(row[5], []).append(row)  # column 5: day
        schema = table.schema
        for day, day_rows in by_day.items():
            columns = list(zip(*day_rows, strict=True))
            arrow = pa.Table.from_arrays(
                [pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)], schema=schema
            )
            key = (table.name, day)
            self.buffers.setdefault(key, []).append(arrow)
            self.buffered[key] = self.buffered.get(key, 0) + len(day_rows)
            if self.buffered[key] >= self.rows_per_file:
                self._flush(key)
        if sum(self.buffered.values()) >= self.max_buffer_rows:
            self.flush()

    def flush(self):
        for key in list(self.buffers):
            self._flush(key)

    def _flush(self, key):
        parts = self.buffers.pop(key, None)
        self.buffered.pop(key, None)
        if not parts:
            return
        name, day = key
        data = pa.concat_tables(parts)
        del parts
        self.part += 1
        n = self.part
        with safe_files.Folder.open(
            os.path.join(self.folder, name, partition(day)), create=True, roots=self.roots
        ) as folder:
            path = folder.write_file(
                f"{self.run_id}-{n}.parquet",
                lambda out: pq.write_table(data, out, row_group_size=self.row_group_size, compression="zstd"),
            )
        self.files.append(path)

    def finish(self):
        self.flush()

    def checkpoint(self):
        """Write every buffer: the files so far are final once the caller commits."""
        self.flush()
        return self.part

    def abort(self):
        """Remove what this run wrote since its last committed checkpoint."""
        self.buffers.clear()
        self.buffered.clear()
        remove_run(self.folder, self.run_id, after=self.committed_part, roots=self.roots)

    @staticmethod
    def cleanup(folder, run_id, after=0, roots=None):
        remove_run(folder, run_id, after=after, roots=roots)


def remove_run(folder, run_id, after=0, roots=None):
    """Delete the files of run ``run_id`` under ``folder`` numbered above ``after`` (what a run
    that did not finish wrote after its last checkpoint)."""
    removed = 0
    try:
        top = safe_files.Folder.open(folder, roots=roots)
    except FileNotFoundError:
        return 0
    with top:
        for table in [e.name for e in top.scandir() if e.is_dir(follow_symlinks=False)]:
            with safe_files.Folder.open(os.path.join(folder, table), roots=roots) as tdir:
                days = [e.name for e in tdir.scandir() if e.is_dir(follow_symlinks=False)]
            for day in days:
                with safe_files.Folder.open(os.path.join(folder, table, day), roots=roots) as ddir:
                    for entry in list(ddir.scandir()):
                        match = FILE_RE.match(entry.name)
                        if match and int(match.group(1)) == run_id and int(match.group(2)) > after:
                            ddir.remove(entry.name)
                            removed += 1
    return removed
