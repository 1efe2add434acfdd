"""The byte-offset index: record starts found by parsing, saved next to the data, reused, rebuilt."""

import os

import numpy as np

from classifykit.text.corpus import load_corpus
from classifykit.text.offset_index import IndexedTextFile, index_path, scan_offsets

CSV = (b"\xef\xbb\xbftext,label\r\n"
       b'"multi\r\nline, with ""quotes""",pos\r\n'
       b"\r\n"
       b"plain,neg\r\n"
       b'"",pos\r\n'
       b'"end",1.0\r\n')


def test_csv_records_may_span_lines(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(CSV)
    offsets, header_end = scan_offsets(path, "csv")
    assert header_end == 15
    assert offsets.tolist() == [15, 53, 64, 72]  # the blank line belongs to record 0
    source = IndexedTextFile(path)
    assert source.columns == ["text", "label"]
    assert list(source.iter_records()) == [(0, 'multi\r\nline, with "quotes"', "pos"), (1, "plain", "neg"),
                                           (2, "", "pos"), (3, "end", "1.0")]
    assert source.record_bytes().tolist() == [38, 11, 8, 11]


def test_index_is_saved_reused_and_rebuilt_when_the_file_changes(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "a", "label": 1}\n\n{"text": "bb", "label": 2}\n', encoding="utf-8")
    first = IndexedTextFile(path)
    saved = index_path(path)
    assert saved.name == ".data.jsonl.offsets.npz" and saved.is_file()
    assert first.offsets.tolist() == [0, 27]
    stamp = saved.stat().st_mtime_ns
    assert IndexedTextFile(path).offsets.tolist() == [0, 27]
    assert saved.stat().st_mtime_ns == stamp  # reused, not rewritten
    path.write_text('{"text": "a", "label": 1}\n{"text": "c", "label": 2}\n{"text": "d", "label": 1}\n',
                    encoding="utf-8")
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))
    assert IndexedTextFile(path).offsets.tolist() == [0, 26, 52]
    assert IndexedTextFile(path).text(2) == "d"


def test_indexed_and_in_memory_corpora_agree(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(CSV)
    memory = load_corpus(path, indexed=False)
    indexed = load_corpus(path, indexed=True)
    assert indexed.texts is None and indexed.indexed is not None
    assert memory.rows.tolist() == indexed.rows.tolist() == [0, 1, 3]
    assert memory.labels == indexed.labels == ["pos", "neg", "1.0"]  # as written (issue 15 defect 7)
    assert list(memory.iter_texts()) == list(indexed.iter_texts())
    assert indexed.skipped == [("data.csv:record 2", "row 2: empty text")]
    np.testing.assert_array_equal(indexed.indexed.record_bytes()[indexed.rows], [38, 11, 11])


def test_tsv_lines_are_records(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text('text\tlabel\nsaid "hi\tpos\nok\tneg\n', encoding="utf-8")
    source = IndexedTextFile(path)
    assert source.kind == "tsv"
    assert list(source.iter_records()) == [(0, 'said "hi', "pos"), (1, "ok", "neg")]


def test_damaged_index_is_rebuilt(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "a", "label": 1}\n{"text": "b", "label": 2}\n', encoding="utf-8")
    index_path(path).write_bytes(b"not an npz file")
    assert IndexedTextFile(path).offsets.tolist() == [0, 26]
    assert IndexedTextFile(path).text(1) == "b"
