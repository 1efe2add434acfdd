"""The text task's model families through the CLI-level pipeline (--model ngram, hf-encoder, auto),
the long-text defaults (max length from the data, the truncation warning under --quiet) and the
defect-10 count (issue 15: a text of exactly --max-length tokens is not cut)."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from classifykit import runfolder as rf
from classifykit.config import TextConfig
from classifykit.errors import ClassifykitError
from classifykit.export import export_model
from classifykit.io import read_csv_rows, read_json
from classifykit.tasks.pipeline import evaluate, predict, train
from classifykit.tasks.text_auto import CANDIDATES_FILE, Candidate, pick
from classifykit.text.truncation import default_max_length
from test_text_encoder import make_tiny_encoder

GOOD = ["good", "great", "fine", "superb", "lovely"]
BAD = ["bad", "awful", "poor", "dull", "weak"]


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory):
    return make_tiny_encoder(tmp_path_factory.mktemp("tiny-bert"))


def _table(path, n=120, words=(2, 9), seed=0):
    """``n`` texts, pos (GOOD words) and neg (BAD words) alternating, each ``words`` words long + "film"."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for i in range(n):
            vocab = GOOD if i % 2 == 0 else BAD
            w.writerow([" ".join(rng.choice(vocab, size=rng.integers(*words))) + " film", "pos" if i % 2 == 0 else "neg"])
    return path


def _cfg(tmp_path, **kw):
    values = dict(data=str(_table(tmp_path / "reviews.csv")), runs_dir=str(tmp_path / "runs"), name="r", epochs=2,
                  batch_size=16, embed_dim=8, hidden_size=8, lr=0.03, quiet=True, device="cpu", num_workers=0)
    values.update(kw)
    return TextConfig(**values)


def _train_cli(tmp_path, *args):
    import classifykit.cli.text  # noqa: F401  (registers `train text`)
    from classifykit.cli.app import app

    data = _table(tmp_path / "reviews.csv")
    result = CliRunner().invoke(app, ["train", "text", str(data), "--runs-dir", str(tmp_path / "runs"), "--name", "cli",
                                      "--quiet", "--device", "cpu", *args])
    assert result.exit_code == 0, result.output
    return tmp_path / "runs" / "cli", result.output


def _predict_and_export(run, tmp_path):
    n, failures = predict(run, [], ["good great superb film", "awful dull weak film", "?!"], tmp_path / "p.csv")
    rows = read_csv_rows(tmp_path / "p.csv")
    assert (n, [r["error"] != "" for r in rows]) == (2, [False, False, True])
    result = export_model(run, "onnx")
    assert all(c.passes(1e-4, 1e-5) and c.same_prediction == c.rows for c in result.checks)
    return rows, read_json(result.path.parent / rf.MODEL_META)


def test_ngram_through_the_cli_trains_evaluates_predicts_and_exports(tmp_path):
    run, _ = _train_cli(tmp_path, "--model", "ngram")
    meta = read_json(run / rf.MODEL_META)
    assert (meta["architecture"], meta["extra"]["featurizer"], meta["best_epoch"]) == ("ngram", "ngram.json", 1)
    assert (run / "ngram.json").is_file() and not (run / rf.VOCAB).exists()
    report, _ = evaluate(run)
    assert report["accuracy"] == read_json(run / rf.EVAL)["accuracy"] == 1.0
    rows, exported = _predict_and_export(run, tmp_path)
    assert [r["label"] for r in rows[:2]] == ["pos", "neg"]
    assert [i["name"] for i in exported["exports"]["onnx"]["inputs"]] == ["ids", "weights"]
    assert (run / "export" / "ngram.json").is_file()


def test_encoder_through_the_cli_trains_evaluates_predicts_and_exports(tmp_path, encoder_dir):
    run, _ = _train_cli(tmp_path, "--model", "hf-encoder", "--encoder", str(encoder_dir))
    meta = read_json(run / rf.MODEL_META)
    assert meta["architecture"] == "hf-encoder" and meta["extra"]["encoder"]["files"] == "encoder"
    assert meta["max_length"] == 16  # 95% of "<2..8 words> film" fit in 16 WordPiece tokens with [CLS]/[SEP]
    assert (run / "encoder" / "tokenizer.json").is_file() and read_csv_rows(run / rf.METRICS)
    report, _ = evaluate(run)
    assert 0 <= report["accuracy"] <= 1 and report["n"] == 30
    _, exported = _predict_and_export(run, tmp_path)
    assert [i["name"] for i in exported["exports"]["onnx"]["inputs"]] == ["input_ids", "attention_mask"]


def test_auto_keeps_the_best_val_candidate_and_lists_every_one(tmp_path, encoder_dir, capsys):
    run = train(_cfg(tmp_path, encoder=str(encoder_dir)))
    cands = read_json(run / CANDIDATES_FILE)
    assert [c["name"] for c in cands] == ["ngram", "hf-encoder", "lstm"]
    chosen = [c for c in cands if c["chosen"]]
    assert len(chosen) == 1 and chosen[0]["val_accuracy"] == max(c["val_accuracy"] for c in cands)
    # the random tiny encoder cannot separate the classes; the n-gram model does, and wins ties (it came first)
    assert chosen[0]["name"] == "ngram" and cands[1]["val_accuracy"] < 1.0
    assert all(set(c) == {"name", "val_accuracy", "val_macro_f1", "test_accuracy", "test_macro_f1", "seconds", "chosen",
                          "reason"} for c in cands)
    assert read_json(run / rf.EVAL)["candidates"] == cands
    assert '<a href="#candidates">Candidates</a>' in (run / rf.REPORT).read_text(encoding="utf-8")
    meta = read_json(run / rf.MODEL_META)
    assert meta["architecture"] == "ngram" and (run / "ngram.json").is_file()
    assert sorted(p.name for p in (run / "candidates").iterdir()) == ["hf-encoder", "lstm"]
    assert not (run / "candidates" / "lstm" / "checkpoints").exists()
    out = capsys.readouterr().out
    assert re.search(r"hf-encoder \(fine-tuned, 2 epochs, max 16 tokens\): estimated \d+ s at \d+ threads?", out)
    assert re.search(r"lstm \(BiLSTM.*\): estimated \d+ s", out)
    assert all(re.search(rf"^  [ *] {name} ", out, re.M) for name in ("ngram", "hf-encoder", "lstm"))
    n, _ = predict(run, [], ["superb lovely film"], tmp_path / "p.csv")
    assert n == 1 and read_csv_rows(tmp_path / "p.csv")[0]["label"] == "pos"


def test_auto_skips_candidates_that_do_not_fit_the_budget(tmp_path, encoder_dir, capsys):
    run = train(_cfg(tmp_path, encoder=str(encoder_dir), time_budget=0.01))
    assert [c["name"] for c in read_json(run / CANDIDATES_FILE)] == ["ngram"]
    skipped = read_json(run / rf.MODEL_META)["extra"]["skipped_candidates"]
    assert [s["name"] for s in skipped] == ["hf-encoder", "lstm"]
    assert all("--time-budget left" in s["reason"] for s in skipped)
    out = capsys.readouterr().out
    assert "hf-encoder: skipped, estimated" in out and "lstm: skipped, estimated" in out
    assert not (run / "candidates").exists()


def test_pick_uses_macro_f1_when_asked_and_breaks_ties_by_order(tmp_path):
    def cand(name, acc, f1):
        return Candidate(name, tmp_path, None, None, 1.0, val_accuracy=acc, val_macro_f1=f1)

    cands = [cand("ngram", 0.80, 0.60), cand("minilm", 0.78, 0.70), cand("lstm", 0.80, 0.50)]
    assert pick(cands, "accuracy").name == "ngram"
    assert "a tie" in cands[2].reason
    assert pick(cands, "macro_f1").name == "minilm" and [c.chosen for c in cands] == [False, True, False]


def test_long_texts_default_max_length_and_warning_under_quiet(tmp_path, capsys):
    data = _table(tmp_path / "long.csv", n=48, words=(30, 60))
    run = train(TextConfig(data=str(data), runs_dir=str(tmp_path / "runs"), name="r", model="lstm", epochs=1,
                           batch_size=16, embed_dim=8, hidden_size=8, quiet=True, device="cpu", num_workers=0,
                           min_freq=1))
    meta = read_json(run / rf.MODEL_META)
    assert meta["max_length"] == 64 and meta["extra"]["truncation"] == "head_tail"  # 95% have at most 60 tokens
    assert "warning:" not in capsys.readouterr().err  # at most 5% cut: no warning


def test_truncation_warning_goes_to_stderr_under_quiet(tmp_path, capsys):
    data = _table(tmp_path / "long.csv", n=48, words=(30, 60))
    train(TextConfig(data=str(data), runs_dir=str(tmp_path / "runs"), name="r2", model="lstm", epochs=1,
                           batch_size=16, embed_dim=8, hidden_size=8, quiet=True, device="cpu", num_workers=0,
                           min_freq=1, max_length=20))
    err = capsys.readouterr().err
    assert re.search(r"warning: \d+ of \d+ training texts \(100\.0%\) are longer than --max-length 20 tokens and are "
                     r"cut, keeping their first 5 and last 15 tokens", err)


def test_default_max_length_follows_the_training_texts():
    assert default_max_length([10] * 96 + [500] * 4) == 32
    assert default_max_length([700] * 100) == 704 and default_max_length([3000] * 10) == 1024


def test_info_line_counts_only_texts_longer_than_max_length(tmp_path, capsys):
    """Issue 15, defect 10: the line counted texts of exactly --max-length tokens as cut (``>=``)."""
    data = _table(tmp_path / "exact.csv", n=60, words=(5, 6))  # every text: 5 words + "film" = 6 tokens
    train(TextConfig(data=str(data), runs_dir=str(tmp_path / "runs"), name="r", model="lstm", epochs=1, batch_size=16,
                     embed_dim=8, hidden_size=8, device="cpu", num_workers=0, min_freq=1, max_length=6))
    out = capsys.readouterr().out
    assert "texts cut to 6 tokens (head_tail): 0 in train" in out


def test_model_options_are_checked_together(tmp_path):
    with pytest.raises(ClassifykitError, match="--rnn gru and --model ngram disagree"):
        _cfg(tmp_path, rnn="gru", model="ngram")
    with pytest.raises(ClassifykitError, match="--model hf-encoder needs --encoder DIR"):
        _cfg(tmp_path, model="hf-encoder")
    with pytest.raises(ClassifykitError, match="--time-budget 0: must be above 0"):
        _cfg(tmp_path, time_budget=0)
    with pytest.raises(ClassifykitError, match="--truncation 'tail': use one of head, head_tail"):
        _cfg(tmp_path, truncation="tail")


def test_rnn_alias_trains_that_cell_and_says_it_is_deprecated(tmp_path, capsys):
    run = train(_cfg(tmp_path, rnn="gru", min_freq=1, max_length=8, epochs=1))
    assert read_json(run / rf.MODEL_META)["architecture"] == "gru"
    assert read_json(run / rf.CONFIG)["config"]["model"] == "gru"
    assert "--rnn is deprecated; use --model gru" in capsys.readouterr().err


def test_config_lists_the_truncations_of_text_truncation():
    from classifykit.config import TRUNCATIONS
    from classifykit.text import truncation

    assert TRUNCATIONS == truncation.TRUNCATIONS


def test_ngram_export_falls_back_to_random_inputs_without_the_data(tmp_path):
    run, _ = _train_cli(tmp_path, "--model", "ngram")
    (tmp_path / "reviews.csv").unlink()
    (run / rf.MANIFEST).unlink()
    result = export_model(run, "onnx")
    assert result.inputs.startswith("8 random inputs") and all(c.passes(1e-4, 1e-5) for c in result.checks)
    assert result.checks[0].shapes == "ids 8×32, weights 8×32"
