"""The drop folder: complete files forwarded whole (one message each), moved to processed/;
too large to error/ with a reason; links never followed; a full spool leaves files in place."""

import os

import pytest
from mfg_edge.config import DropFolder as DropConfig
from mfg_edge.dropfolder import DropFolder, file_topic
from mfg_edge.spool import Spool


@pytest.fixture
def folder(tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    spool = Spool(str(tmp_path / "s.sqlite"))
    counts = {"forwarded": 0, "errors": 0, "waiting": 0, "refused_full": 0}

    def make(**kw):
        return DropFolder(DropConfig(path=str(drop), **kw), "mfg/T1/mes", spool, counts)

    return drop, spool, counts, make


def test_a_stable_file_goes_whole_once_and_moves_to_processed(folder):
    drop, spool, counts, make = folder
    dropper = make()
    data = "H;WO-1;A\n" + "".join(f"L;{i};5\n" for i in range(1000)) + "T;1000\n"
    (drop / "prod 2026#1+.csv").write_text(data)
    assert dropper.scan() == []  # seen once: maybe still being written
    assert counts["waiting"] == 1
    assert dropper.scan() == ["prod 2026#1+.csv"]
    [(_id, topic, payload)] = spool.after(0, 10)
    assert topic == "mfg/T1/mes/files/prod%202026%231%2B.csv" == file_topic("mfg/T1/mes", "prod 2026#1+.csv")
    assert payload == data.encode()
    assert (
        not (drop / "prod 2026#1+.csv").exists()
        and (drop / "processed" / "prod 2026#1+.csv").read_text() == data
    )
    assert dropper.scan() == [] and counts["forwarded"] == 1


def test_a_growing_file_waits(folder):
    drop, spool, _counts, make = folder
    dropper = make()
    path = drop / "g.txt"
    path.write_text("a\n")
    dropper.scan()
    with path.open("a") as f:
        f.write("b\n")
    assert dropper.scan() == []
    assert dropper.scan() == ["g.txt"]
    assert spool.after(0, 1)[0][2] == b"a\nb\n"


def test_marker_mode_waits_for_the_done_file(folder):
    drop, _spool, _counts, make = folder
    dropper = make(complete="marker")
    (drop / "m.csv").write_text("x\n")
    assert dropper.scan() == [] and dropper.scan() == []
    (drop / "m.csv.done").write_text("")
    assert dropper.scan() == ["m.csv"]
    assert not (drop / "m.csv.done").exists()


def test_too_large_goes_to_error_with_its_reason(folder):
    drop, spool, counts, make = folder
    dropper = make(max_file_bytes=10)
    (drop / "big.csv").write_text("x" * 11)
    dropper.scan()
    dropper.scan()
    assert (drop / "error" / "big.csv").exists() and spool.after(0, 1) == []
    reason = (drop / "error" / "big.csv.reason.txt").read_text()
    assert "11 bytes, more than 10 (dropfolder.max_file_bytes)" in reason and counts["errors"] == 1


def test_links_are_never_followed(folder, tmp_path):
    drop, spool, _counts, make = folder
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the plant broker")
    os.symlink(secret, drop / "link.csv")
    (drop / "sub").mkdir()
    (drop / "sub" / "inner.csv").write_text("x")
    dropper = make()
    assert dropper.scan() == [] and dropper.scan() == []
    assert spool.after(0, 10) == [] and (drop / "link.csv").is_symlink() and secret.exists()


def test_a_full_spool_leaves_the_file_in_place(folder):
    drop, spool, counts, make = folder
    spool.max_messages = 0
    dropper = make()
    (drop / "f.csv").write_text("x\n")
    dropper.scan()
    assert dropper.scan() == [] and (drop / "f.csv").exists() and counts["refused_full"] == 1
    spool.max_messages = 10
    assert dropper.scan() == ["f.csv"]
