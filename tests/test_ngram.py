"""The n-gram linear text model: featurizer, scikit-learn fit, torch module, JSON/safetensors round trip, ONNX."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from classifykit.engine.checkpoint import load_weights, save_weights
from classifykit.engine.loop import predict_logits
from classifykit.errors import ClassifykitError
from classifykit.models import create_model, get_spec
from classifykit.models.ngram import NgramClassifier, fit_ngram, is_imbalanced
from classifykit.text.ngram import NgramFeaturizer, default_blocks, ngram_loader, pad_rows

GOOD = ["great", "wonderful", "superb", "moving", "brilliant", "delightful"]
BAD = ["awful", "boring", "dull", "tedious", "clumsy", "dreadful"]


def texts_of(n: int, seed: int, classes=(GOOD, BAD)) -> tuple[list[str], np.ndarray]:
    """Synthetic reviews: a class's cue words among shared filler words."""
    rng = np.random.default_rng(seed)
    filler = ["the", "film", "plot", "actors", "was", "and", "a", "story", "scenes", "ending"]
    texts, y = [], []
    for i in range(n):
        k = i % len(classes)
        words = list(rng.choice(filler, 6)) + list(rng.choice(classes[k], 2)) + list(rng.choice(classes[1 - k], 1 if rng.random() < 0.2 else 0))
        rng.shuffle(words)
        texts.append(" ".join(words))
        y.append(k)
    return texts, np.asarray(y, dtype=np.int64)


@pytest.fixture(scope="module")
def fitted():
    train, ty = texts_of(200, 0)
    val, vy = texts_of(60, 1)
    return (*fit_ngram(train, ty, val, vy, num_classes=2, seed=0), train, ty, val, vy)


def test_fit_learns_the_cues_and_reports_its_choice(fitted):
    model, featurizer, info, *_ = fitted
    test, y = texts_of(80, 2)
    logits, _ = predict_logits(model, ngram_loader(featurizer, test), torch.device("cpu"))
    assert (logits.argmax(1).numpy() == y).mean() >= 0.95
    assert info.C in (0.5, 1.0, 2.0, 4.0, 8.0) and sorted(info.grid) == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert info.grid[info.C] == max(info.grid.values()) and info.val_accuracy >= 0.95
    assert info.class_weight is None and info.selected_by == "accuracy"
    assert info.num_features == featurizer.num_features == model.weight.shape[0] > 100
    assert 0 < info.seconds < 30


def test_softmax_equals_scikit_learn_predict_proba(fitted):
    model, featurizer, info, train, ty, *_ = fitted
    clf = LogisticRegression(C=info.C, max_iter=2000, random_state=0).fit(featurizer.transform_sparse(train), ty)
    test, _ = texts_of(30, 3)
    ids, weights = featurizer.transform(test)
    with torch.no_grad():
        probs = torch.softmax(model(ids, weights), 1).numpy()
    assert np.abs(probs - clf.predict_proba(featurizer.transform_sparse(test))).max() < 1e-5


def test_word_and_char_blocks_with_sublinear_tf():
    featurizer = NgramFeaturizer().fit(["good good good film", "bad film"])
    assert [b["analyzer"] for b in featurizer.blocks] == ["word", "char_wb"]
    assert [b["ngram_range"] for b in featurizer.blocks] == [(1, 2), (2, 5)]
    assert all(b["sublinear_tf"] for b in featurizer.blocks)
    word = featurizer._vectorizers[0]
    row = word.transform(["good good good film"]).toarray()[0]
    good, film = row[word.vocabulary_["good"]], row[word.vocabulary_["film"]]
    idf = dict(zip(word.get_feature_names_out(), word.idf_))
    # sublinear tf: 1 + ln(3) for "good", 1 for "film", each times its idf, then L2-normalised together
    assert good / film == pytest.approx((1 + np.log(3)) * idf["good"] / idf["film"], rel=1e-5)
    ids, weights = featurizer.transform(["good good good film"])
    assert float((weights ** 2).sum()) == pytest.approx(2.0, rel=1e-5)  # two unit-norm blocks


def test_min_df_and_feature_cap_follow_the_set_size():
    assert [b["min_df"] for b in default_blocks(1_000)] == [1, 1]
    assert [b["min_df"] for b in default_blocks(50_000)] == [2, 2]
    blocks = default_blocks(100, max_features=50)
    featurizer = NgramFeaturizer(blocks).fit(texts_of(100, 0)[0])
    assert featurizer.num_features <= 50


def test_pad_rows_pads_with_column_0_and_weight_0():
    featurizer = NgramFeaturizer().fit(["a long text about films", "short"])
    ids, weights = featurizer.transform(["a long text about films", "short", ""])
    assert ids.dtype == torch.int64 and weights.dtype == torch.float32 and ids.shape == weights.shape
    counts = (weights != 0).sum(1).tolist()
    assert counts[0] == ids.shape[1] > counts[1] > 0 and counts[2] == 0
    assert (ids[weights == 0] == 0).all()
    empty_ids, empty_weights = pad_rows(featurizer.transform_sparse([""]))
    assert empty_ids.shape == (1, 1) and float(empty_weights.sum()) == 0.0


def test_empty_text_gets_the_bias_as_logits(fitted):
    model, featurizer, *_ = fitted
    with torch.no_grad():
        logits = model(*featurizer.transform(["", "   "]))
    assert torch.equal(logits, model.bias.detach().expand(2, -1))


def test_save_load_round_trip_is_exact_and_plain_json(fitted, tmp_path):
    model, featurizer, *_ = fitted
    featurizer.save(tmp_path / "ngram.json")
    save_weights(model, tmp_path / "model.safetensors")
    data = json.loads((tmp_path / "ngram.json").read_text(encoding="utf-8"))
    assert data["format"] == "classifykit-ngram" and data["num_features"] == featurizer.num_features
    assert [b["settings"]["analyzer"] for b in data["blocks"]] == ["word", "char_wb"]
    assert isinstance(data["blocks"][0]["vocabulary"]["great"], int)
    loaded_featurizer = NgramFeaturizer.load(tmp_path / "ngram.json")
    loaded = create_model("ngram", num_classes=2, num_features=data["num_features"])
    load_weights(loaded, tmp_path / "model.safetensors")
    loaded.eval()
    test, _ = texts_of(50, 4)
    a_ids, a_w = featurizer.transform(test)
    b_ids, b_w = loaded_featurizer.transform(test)
    assert torch.equal(a_ids, b_ids) and torch.equal(a_w, b_w)
    with torch.no_grad():
        assert torch.equal(model(a_ids, a_w), loaded(b_ids, b_w))


def test_load_refuses_a_foreign_file(tmp_path):
    (tmp_path / "x.json").write_text('{"format": "other"}', encoding="utf-8")
    with pytest.raises(ClassifykitError, match="not a classifykit n-gram featurizer"):
        NgramFeaturizer.load(tmp_path / "x.json")
    with pytest.raises(ClassifykitError, match="no n-gram featurizer file"):
        NgramFeaturizer.load(tmp_path / "missing.json")


def test_registered_as_a_text_model():
    assert get_spec("ngram").task == "text"
    model = create_model("ngram", num_classes=3, num_features=10)
    assert isinstance(model, NgramClassifier) and model.weight.shape == (10, 3) and model.model_name == "ngram"


def test_imbalanced_classes_get_balanced_weights_and_macro_f1():
    assert is_imbalanced(np.array([0] * 30 + [1] * 10), 2) and not is_imbalanced(np.array([0] * 12 + [1] * 10), 2)
    train, ty = texts_of(200, 0)
    keep = np.flatnonzero((ty == 0) | (np.arange(len(ty)) % 8 == 1))
    val, vy = texts_of(60, 1)
    _, _, info = fit_ngram([train[i] for i in keep], ty[keep], val, vy, num_classes=2)
    assert info.class_weight == "balanced" and info.selected_by == "macro_f1"
    assert info.grid[info.C] == pytest.approx(info.val_macro_f1)


def test_three_classes():
    third = ["funny", "hilarious", "witty"]
    texts, y = texts_of(150, 0)
    extra = [f"the film was {w} and {v}" for w, v in zip(third * 20, third[::-1] * 20)]
    texts, y = texts + extra, np.concatenate([y, np.full(len(extra), 2)])
    model, featurizer, info = fit_ngram(texts, y, texts[::3], y[::3], num_classes=3)
    with torch.no_grad():
        pred = model(*featurizer.transform(["the film was witty", "the film was awful and dull"])).argmax(1)
    assert pred.tolist() == [2, 1] and model.weight.shape[1] == 3


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.onnx: the TorchScript exporter, as export.to_onnx uses
def test_onnx_export_matches_pytorch(fitted, tmp_path):
    import onnxruntime as ort

    model, featurizer, *_ = fitted
    example = featurizer.transform(texts_of(4, 5)[0])
    path = tmp_path / "ngram.onnx"
    with torch.no_grad():
        torch.onnx.export(model, example, str(path), dynamo=False, input_names=["ids", "weights"], output_names=["logits"],
                          dynamic_axes={"ids": {0: "batch", 1: "seq"}, "weights": {0: "batch", 1: "seq"}, "logits": {0: "batch"}},
                          opset_version=17)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for texts in (texts_of(9, 6)[0], ["", "great"], texts_of(1, 7)[0]):  # other batch sizes and lengths
        ids, weights = featurizer.transform(texts)
        got = session.run(["logits"], {"ids": ids.numpy(), "weights": weights.numpy()})[0]
        with torch.no_grad():
            want = model(ids, weights).numpy()
        assert np.abs(got - want).max() < 1e-5
