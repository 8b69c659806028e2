"""The spool: committed before answered, in order, deleted after the broker's acknowledgement,
bounded, one row per message id while spooled, and still there after a restart."""

import sqlite3

import pytest
from mfg_edge.spool import Spool, SpoolFull


def test_rows_in_order_until_deleted_and_across_a_reopen(tmp_path):
    path = str(tmp_path / "s.sqlite")
    spool = Spool(path)
    ids = [spool.put("t/a", f'{{"message_id": "{i}"}}'.encode(), message_id=str(i))[0] for i in range(5)]
    assert [r[0] for r in spool.after(0, 10)] == ids
    assert [r[0] for r in spool.after(ids[1], 2)] == ids[2:4]
    spool.delete(ids[:2])
    assert spool.depth == 3
    spool.close()
    # another process (a restart after kill -9) sees what was committed and not acknowledged
    again = Spool(path)
    assert [r[0] for r in again.after(0, 10)] == ids[2:] and again.depth == 3
    assert again.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert again.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    # ids keep growing after a restart: order is never reused
    assert again.put("t/a", b"{}", message_id="new")[0] > ids[-1]


def test_the_same_message_id_is_stored_once_while_spooled(tmp_path):
    spool = Spool(str(tmp_path / "s.sqlite"))
    first, duplicate = spool.put("t/a", b"{}", message_id="m1")
    assert not duplicate
    assert spool.put("t/a", b"{}", message_id="m1") == (first, True)
    assert spool.put("t/b", b"{}", message_id="m1")[1] is False  # another contract: another message
    spool.delete([first])
    assert spool.put("t/a", b"{}", message_id="m1")[1] is False  # acknowledged: a new delivery


def test_a_full_spool_refuses_and_names_its_limit(tmp_path):
    spool = Spool(str(tmp_path / "s.sqlite"), max_messages=2, max_bytes=100)
    spool.put("t", b"1")
    spool.put("t", b"2")
    with pytest.raises(SpoolFull, match="max_spool_messages = 2"):
        spool.put("t", b"3")
    spool.delete([r[0] for r in spool.after(0, 1)])
    with pytest.raises(SpoolFull, match="max_spool_bytes = 100"):
        spool.put("t", b"x" * 100)
    assert spool.stats()["depth"] == 1
    rows = sqlite3.connect(str(tmp_path / "s.sqlite")).execute("SELECT payload FROM spool").fetchall()
    assert rows == [(b"2",)]
