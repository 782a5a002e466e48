"""atomic_write: the target is either the old file or the new one, and no temporary outlives its writer."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from epochal.utils.atomic_files import atomic_write, remove_orphaned_temporaries


def _pid_of_a_finished_process() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "model.h5"
    target.write_bytes(b"old")

    def half_then_crash(temporary):
        temporary.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, half_then_crash)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.h5"]


def test_the_next_write_removes_a_killed_writers_temporary_but_not_a_live_ones(tmp_path):
    target = tmp_path / "best-model.h5"
    orphan = tmp_path / f".best-model.h5.{_pid_of_a_finished_process()}-0123456789ab.tmp"
    in_progress = tmp_path / f".best-model.h5.{os.getpid()}-ba9876543210.tmp"  # e.g. another thread's
    other_target = tmp_path / f".other.h5.{_pid_of_a_finished_process()}-0123456789ab.tmp"
    for path in (orphan, in_progress, other_target):
        path.write_bytes(b"half")
    atomic_write(target, lambda temporary: temporary.write_bytes(b"new"))
    assert target.read_bytes() == b"new"
    assert not orphan.exists()
    assert in_progress.exists() and other_target.exists()


def test_names_with_glob_characters_are_matched_literally(tmp_path):
    dead = _pid_of_a_finished_process()
    mine = tmp_path / f".run[1].h5.{dead}-abc.tmp"
    lookalike = tmp_path / f".run1.h5.{dead}-abc.tmp"
    mine.write_bytes(b""), lookalike.write_bytes(b"")
    assert remove_orphaned_temporaries(tmp_path / "run[1].h5") == [mine]
    assert lookalike.exists()


def test_an_os_error_on_the_temporary_names_the_target(tmp_path, monkeypatch):
    import epochal.utils.atomic_files as atomic_files

    def refuse(name, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(name))

    monkeypatch.setattr(atomic_files, "open", refuse, raising=False)
    with pytest.raises(PermissionError) as raised:
        atomic_write(tmp_path / "report.html", lambda temporary: None)
    assert str(raised.value) == f"Cannot write '{tmp_path / 'report.html'}': Permission denied"
    assert raised.value.errno == 13
