"""``train_text`` end to end on a small generated table, and the text pieces of evaluate/predict."""

import csv
import json

import numpy as np
import pytest
import torch

from classifykit import runfolder as rf
from classifykit.config import RNN_CLIP_GRAD_NORM, TextConfig
from classifykit.errors import ClassifykitError
from classifykit.io import read_csv_rows, read_json
from classifykit.models.saved import load_saved_model
from classifykit.tasks.pipeline import evaluate as evaluate_text, predict as predict_text, train as train_text
from classifykit.text.inference import labelled_texts, load_vocab, predict_probabilities, read_texts, split_texts

GOOD = ["good", "great", "fine", "superb", "lovely"]
BAD = ["bad", "awful", "poor", "dull", "weak"]


def load_trained_text_model(run, device):
    """``(model, model.json body, vocabulary)`` of a finished text run."""
    model, meta = load_saved_model(run, device)
    return model, meta.to_dict(), load_vocab(run)[0]


def _table(path, n=120, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        words = GOOD if i % 2 == 0 else BAD
        text = " ".join(rng.choice(words, size=rng.integers(2, 9))) + " film"
        rows.append([text, "pos " if i % 2 == 0 else " neg"])
    rows += [["", "pos"], ["  ", "neg"], ["?!", "pos"], ["NA", "neg"], ["fine film", ""]]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return path


def _cfg(tmp_path, **kw):
    values = dict(data=str(_table(tmp_path / "reviews.csv")), runs_dir=str(tmp_path / "runs"), name="r",
                  epochs=3, batch_size=16, embed_dim=8, hidden_size=8, lr=0.03, min_freq=1, max_length=6,
                  quiet=True, device="cpu", num_workers=0, patience=0, model="lstm")
    values.update(kw)
    return TextConfig(**values)


def test_train_text_writes_every_run_file(tmp_path):
    run = train_text(_cfg(tmp_path))
    assert read_json(run / rf.CLASSES) == ["neg", "pos"]
    assert "Test results" in (run / rf.REPORT).read_text(encoding="utf-8")
    skipped = read_csv_rows(run / rf.SKIPPED)
    assert [(r["file"], r["reason"]) for r in skipped] == [
        ("reviews.csv:122", "row 120: empty text"),
        ("reviews.csv:123", "row 121: whitespace-only text"),
        ("reviews.csv:124", "row 122: punctuation-only text (no letter or digit)"),
        ("reviews.csv:126", "row 124: missing label"),
    ]
    manifest = read_csv_rows(run / rf.MANIFEST)
    assert len(manifest) == 121 and manifest[-1] == {"row": "123", "text": "NA", "label": "neg"}
    split = read_csv_rows(run / rf.SPLIT)
    counts = {s: sum(r["split"] == s for r in split) for s in ("train", "val", "test")}
    assert counts == {"train": 72, "val": 18, "test": 31}
    vocab = json.loads((run / rf.VOCAB).read_text(encoding="utf-8"))
    assert vocab["tokens"][:3] == ["<pad>", "<unk>", "film"]
    assert set(vocab["tokens"][3:]) <= set(GOOD + BAD + ["na"])
    meta = read_json(run / rf.MODEL_META)
    assert meta["task"] == "text" and meta["architecture"] == "lstm" and meta["max_length"] == 6
    assert meta["model_kwargs"]["vocab_size"] == len(vocab["tokens"])
    assert read_json(run / rf.CONFIG)["config"]["clip_grad_norm"] == RNN_CLIP_GRAD_NORM
    steps = read_csv_rows(run / rf.STEPS)
    assert len(steps) == 3 * 5 and {"gn:embedding", "gn:rnn", "gn:fc"} <= set(steps[0])
    report = read_json(run / rf.EVAL)
    assert report["n"] == 31 and report["accuracy"] >= 0.9  # the words give the class away
    preds = read_csv_rows(run / rf.TEST_PREDICTIONS)
    items, texts, targets = split_texts(run, "test")
    assert [p["item"] for p in preds] == items and len(texts) == 31
    assert [p["label"] for p in preds] == [["neg", "pos"][t] for t in targets]


def test_predict_pieces_give_valid_probabilities(tmp_path):
    run = train_text(_cfg(tmp_path, test_ratio=0.0, val_ratio=0.2, epochs=2))
    assert not (run / rf.EVAL).exists()
    model, meta, vocab = load_trained_text_model(run, torch.device("cpu"))
    assert load_vocab(run)[0].tokens == vocab.tokens
    probs = predict_probabilities(model, ["great superb film", "", "zzz qqq", "awful dull"], vocab,
                                  meta["max_length"], torch.device("cpu"), batch_size=3)
    assert probs.shape == (4, 2)
    torch.testing.assert_close(probs.sum(1), torch.ones(4))
    assert probs[0].argmax().item() == 1 and probs[3].argmax().item() == 0
    items, texts, targets, skipped = labelled_texts(tmp_path / "reviews.csv", meta["classes"])
    assert len(items) == 121 and len(skipped) == 4 and targets.dtype == np.int64
    (tmp_path / "other.csv").write_text("text,label\nhi,meh\n", encoding="utf-8")
    with pytest.raises(ClassifykitError, match="labels 'meh' are not among the model's classes"):
        labelled_texts(tmp_path / "other.csv", meta["classes"])


def test_read_texts_for_predict(tmp_path):
    (tmp_path / "a.txt").write_text("first text\n\nsecond, text\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text('{"review": "x"}\n{"review": null}\n', encoding="utf-8")
    (tmp_path / "c.tsv").write_text('sentence\tother\nsaid "hi\t1\n', encoding="utf-8")
    a, b, c = (str(tmp_path / name) for name in ("a.txt", "b.jsonl", "c.tsv"))
    assert read_texts(a) == ([(f"{a}:1", "first text"), (f"{a}:3", "second, text")], 1)
    assert read_texts(b) == ([(f"{b}:1", "x"), (f"{b}:2", "")], 0)
    assert read_texts(c) == ([(f"{c}:2", 'said "hi')], 0)


def test_bad_options_name_the_flag(tmp_path):
    with pytest.raises(ClassifykitError, match="--rnn 'transformer'"):
        train_text(_cfg(tmp_path, rnn="transformer"))
    with pytest.raises(ClassifykitError, match="--pooling 'attention'"):
        train_text(_cfg(tmp_path, name="r2", pooling="attention"))


def test_cli_train_text_runs_from_flags(tmp_path):
    from typer.testing import CliRunner

    import classifykit.cli.text  # noqa: F401  (registers `train text` and `demo text`)
    from classifykit.cli.app import app

    data = _table(tmp_path / "reviews.csv")
    result = CliRunner().invoke(app, ["train", "text", str(data), "--runs-dir", str(tmp_path / "runs"), "--name", "cli",
                                      "--epochs", "1", "--hidden-size", "4", "--embed-dim", "4", "--rnn", "gru",
                                      "--pooling", "mean", "--no-bidirectional", "--quiet", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    meta = read_json(tmp_path / "runs" / "cli" / rf.MODEL_META)
    assert meta["architecture"] == "gru"
    assert meta["model_kwargs"] == {"vocab_size": meta["model_kwargs"]["vocab_size"], "embed_dim": 4, "hidden_size": 4,
                                    "num_layers": 1, "bidirectional": False, "dropout": 0.3, "pooling": "mean"}
    help_text = CliRunner().invoke(app, ["demo", "text", "--help"]).output
    assert "Rotten Tomatoes" in help_text


def test_large_file_path_reads_through_the_offset_index(tmp_path, monkeypatch):
    import classifykit.text.corpus as corpus

    monkeypatch.setattr(corpus, "INDEXED_MIN_BYTES", 0)  # treat the small table as larger than memory
    run = train_text(_cfg(tmp_path, epochs=1, num_workers=1))
    assert (tmp_path / ".reviews.csv.offsets.npz").is_file()
    skipped = read_csv_rows(run / rf.SKIPPED)
    assert [r["file"] for r in skipped] == [f"reviews.csv:record {i}" for i in (120, 121, 122, 124)]
    manifest = read_csv_rows(run / rf.MANIFEST)
    assert len(manifest) == 121 and manifest[-1] == {"row": "123", "text": "NA", "label": "neg"}
    assert read_json(run / rf.EVAL)["n"] == 31


def test_evaluate_and_predict_text(tmp_path, monkeypatch):
    import io


    run = train_text(_cfg(tmp_path))
    report, out_dir = evaluate_text(run, device="cpu")
    assert out_dir == run and report["n"] == 31 and report == read_json(run / rf.EVAL)
    other = tmp_path / "more.jsonl"
    other.write_text('{"text": "superb lovely", "label": "pos"}\n{"text": "", "label": "neg"}\n'
                     '{"text": "dull weak poor", "label": "neg"}\n', encoding="utf-8")
    report, out_dir = evaluate_text(run, str(other), device="cpu")
    assert out_dir == run / "eval-more" and report["n"] == 2
    assert [r["reason"] for r in read_csv_rows(out_dir / rf.SKIPPED)] == ["row 1: empty text"]
    (tmp_path / "in.txt").write_text("great superb lovely film\nzzz unknown words\n", encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO("awful dull poor\n\n"))
    n, failures = predict_text(run, [str(tmp_path / "in.txt"), "-"], ["", "lovely superb"], tmp_path / "p.csv",
                               top_k=5, device="cpu")
    rows = read_csv_rows(tmp_path / "p.csv")
    assert (n, failures) == (4, [("--text 1", "empty text: nothing to classify (training skips such texts too)")])
    assert [r["input"] for r in rows] == ["--text 1", "--text 2", f"{tmp_path / 'in.txt'}:1", f"{tmp_path / 'in.txt'}:2", "stdin:1"]
    assert [r["text"] for r in rows] == ["", "lovely superb", "great superb lovely film", "zzz unknown words",
                                         "awful dull poor"]
    assert rows[0]["label"] == "" and rows[0]["error"] == failures[0][1]
    rows = rows[1:]
    model, meta, vocab = load_trained_text_model(run, torch.device("cpu"))
    probs = predict_probabilities(model, [r["text"] for r in rows], vocab, meta["max_length"], torch.device("cpu"))
    assert [r["label"] for r in rows] == [meta["classes"][i] for i in probs.argmax(1).tolist()]
    assert [float(r["probability"]) for r in rows] == pytest.approx(probs.max(1).values.tolist(), abs=1e-6)
    for r in rows:
        pairs = [p.split(":") for p in r["top_k"].split(";")]
        assert [c for c, _ in pairs] in (["pos", "neg"], ["neg", "pos"])
        assert sum(float(q) for _, q in pairs) == pytest.approx(1.0, abs=1e-3)


def test_resume_reuses_split_vocab_and_classes(tmp_path):
    run = train_text(_cfg(tmp_path, epochs=2))
    before = {name: (run / name).read_bytes() for name in (rf.SPLIT, rf.VOCAB, rf.CLASSES, rf.EVAL)}
    again = train_text(_cfg(tmp_path, epochs=2), resume=str(run))
    assert again == run
    assert {name: (run / name).read_bytes() for name in before} == before
    assert len(read_csv_rows(run / rf.METRICS)) == 2  # nothing left to train: no epoch added


def test_predict_texts_from_a_folder_is_a_clear_error(tmp_path):
    from classifykit.text.inference import read_texts

    with pytest.raises(ClassifykitError, match="a folder; a text run predicts texts"):
        read_texts(str(tmp_path))


def test_a_class_too_small_to_split_is_said_not_raised_as_a_python_warning(tmp_path, capsys):
    import warnings

    from classifykit.tasks.text import make_split
    from classifykit.text.corpus import load_corpus

    path = tmp_path / "few.csv"
    path.write_text("text,label\n" + "".join(f"good film {i},pos\nbad film {i},neg\n" for i in range(10))
                    + "odd film,rare\n", encoding="utf-8")
    (tmp_path / "run").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning that escapes the task fails the test
        split = make_split(tmp_path / "run", _cfg(tmp_path, data=str(path), quiet=False), load_corpus(path), reuse=False)
    assert split[-1] == "train"
    assert capsys.readouterr().err == (  # a data warning: on stderr
        "warning: 1 class(es) have fewer than 3 items, too few for one in each split, and go to train only "
        "(val/test will not measure them): 'rare' (1). Add items to these classes or remove them.\n"
    )


def test_clip_grad_norm_none_trains_without_clipping(tmp_path):
    # lr 1.0 makes gradient norms above 1.0 certain, so the default would have clipped some steps.
    run = train_text(_cfg(tmp_path, epochs=1, clip_grad_norm=None, lr=1.0))
    assert read_json(run / rf.CONFIG)["config"]["clip_grad_norm"] is None
    steps = read_csv_rows(run / rf.STEPS)
    assert max(float(r["grad_norm"]) for r in steps) > RNN_CLIP_GRAD_NORM
    assert {r["clipped"] for r in steps} == {"0"}
