"""Atomic writes: the content lands whole, the previous file survives a failure, permissions follow the umask."""

import os
import stat

import pytest

from classifykit.io import atomic_write_bytes, read_csv_rows, write_csv


def test_atomic_write_replaces_content_and_uses_umask_permissions(tmp_path):
    path = tmp_path / "a" / "f.bin"
    old = os.umask(0o022)
    try:
        atomic_write_bytes(path, b"one")
        atomic_write_bytes(path, b"two")
    finally:
        os.umask(old)
    assert path.read_bytes() == b"two"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0600
    assert [p.name for p in path.parent.iterdir()] == ["f.bin"]  # no temp file left


def test_failed_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "f.csv"
    write_csv(path, ["a", "b"], [["1", "x,y"]])

    def rows():
        yield ["2", "z"]
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_csv(path, ["a", "b"], rows())
    assert read_csv_rows(path) == [{"a": "1", "b": "x,y"}]
    assert [p.name for p in tmp_path.iterdir()] == ["f.csv"]
