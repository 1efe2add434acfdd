"""``classifykit predict`` on a text run: input ids, blank lines, texts with no word, encodings."""

import io

import pytest
import torch
from test_text_task import _cfg, load_trained_text_model

from classifykit.errors import ClassifykitError
from classifykit.io import read_csv_rows
from classifykit.tasks.pipeline import predict as predict_text, train as train_text
from classifykit.text.inference import predict_probabilities


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return train_text(_cfg(tmp_path_factory.mktemp("predict")))


def test_ids_are_line_numbers_and_blank_lines_are_counted_once(run, tmp_path, monkeypatch, capsys):
    # A fresh user's file: the third line was labelled gaps.txt:2 because the blank line was dropped first.
    gaps = tmp_path / "gaps.txt"
    gaps.write_bytes(b"line one good\n\nline three bad\n")
    monkeypatch.setattr("sys.stdin", io.StringIO("line one good\n\nline three bad\n"))
    n, failures = predict_text(run, [str(gaps), "-"], [], tmp_path / "p.csv", device="cpu")
    rows = read_csv_rows(tmp_path / "p.csv")
    assert (n, failures) == (4, [])
    assert [r["input"] for r in rows] == [f"{gaps}:1", f"{gaps}:3", "stdin:1", "stdin:3"]
    assert [r["text"] for r in rows] == ["line one good", "line three bad"] * 2
    assert capsys.readouterr().out == f"2 blank lines skipped ({gaps} 1, stdin 1)\n"
    predict_text(run, [str(gaps)], [], tmp_path / "p.csv", device="cpu")
    assert capsys.readouterr().out == "1 blank line skipped\n"


def test_texts_without_a_word_are_errors_and_unknown_words_get_probabilities(run, tmp_path):
    n, failures = predict_text(run, [], ["", "!!!", "zzz qqq", "great superb lovely film"], tmp_path / "p.csv", top_k=2, device="cpu")
    rows = read_csv_rows(tmp_path / "p.csv")
    assert (n, failures) == (2, [
        ("--text 1", "empty text: nothing to classify (training skips such texts too)"),
        ("--text 2", "punctuation-only text (no letter or digit): nothing to classify (training skips such texts too)"),
    ])
    assert [(r["label"], r["probability"], r["top_k"], r["error"]) for r in rows[:2]] == [
        ("", "", "", failures[0][1]), ("", "", "", failures[1][1])]
    model, meta, vocab = load_trained_text_model(run, torch.device("cpu"))
    probs = predict_probabilities(model, ["zzz qqq", "great superb lovely film"], vocab, meta["max_length"], torch.device("cpu"))
    assert [r["label"] for r in rows[2:]] == [meta["classes"][i] for i in probs.argmax(1).tolist()]
    assert [float(r["probability"]) for r in rows[2:]] == pytest.approx(probs.max(1).values.tolist(), abs=1e-6)
    assert [r["error"] for r in rows[2:]] == ["", ""] and rows[3]["label"] == "pos"


def test_a_latin1_file_predicts_with_encoding(run, tmp_path):
    # The undecodable-file error told users to pass --encoding, which predict did not have.
    from typer.testing import CliRunner

    import classifykit.cli  # noqa: F401  (registers the commands)
    from classifykit.cli.app import app

    latin = tmp_path / "latin.txt"
    latin.write_bytes("très bon film superb\nmauvais café dull\n".encode("latin-1"))
    with pytest.raises(ClassifykitError, match=r"not valid utf-8 at byte 2 \(line 1\); pass the file's encoding with --encoding"):
        predict_text(run, [str(latin)], [], tmp_path / "p.csv", device="cpu")
    result = CliRunner().invoke(app, ["predict", str(run), str(latin), "--encoding", "latin-1", "--out",
                                      str(tmp_path / "p.csv"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    rows = read_csv_rows(tmp_path / "p.csv")
    assert [(r["input"], r["text"], r["error"]) for r in rows] == [
        (f"{latin}:1", "très bon film superb", ""), (f"{latin}:2", "mauvais café dull", "")]
    assert all(0.5 <= float(r["probability"]) <= 1.0 for r in rows)
