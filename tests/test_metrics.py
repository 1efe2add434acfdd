"""engine.metrics: Wilson interval, sample size, eval.json body — against values computed by hand."""

import math

import numpy as np
import pytest
import torch

from classifykit.engine.metrics import classification_report, n_for_halfwidth, top_k_accuracy, wilson_interval
from classifykit.errors import ClassifykitError

Z95 = 1.959963984540054


def wilson_by_formula(k, n, z=Z95):
    """Wilson (1927) score interval written out: centre (p + z²/2n)/(1 + z²/n) ± z/(1 + z²/n)·sqrt(p(1-p)/n + z²/4n²)."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_wilson_81_of_100():
    lo, hi = wilson_interval(81, 100)
    assert (round(lo, 4), round(hi, 4)) == (0.7222, 0.8749)


@pytest.mark.parametrize("k,n", [(0, 10), (10, 10), (1, 3), (937, 1000)])
def test_wilson_matches_formula(k, n):
    assert wilson_interval(k, n) == pytest.approx(wilson_by_formula(k, n), abs=1e-12)


def test_wilson_other_confidence():
    z99 = 2.5758293035489004
    assert wilson_interval(81, 100, confidence=0.99) == pytest.approx(wilson_by_formula(81, 100, z99), abs=1e-12)


def test_wilson_rejects_empty_and_bad_counts():
    with pytest.raises(ClassifykitError, match="test split is empty"):
        wilson_interval(0, 0)
    with pytest.raises(ClassifykitError, match="outside 0..10"):
        wilson_interval(11, 10)


def test_n_for_halfwidth_cochran():
    # ceil(1.959964² × 0.9 × 0.1 / 0.02²) = ceil(864.33) and ceil(1.959964² × 0.25 / 0.0004) = ceil(2400.91)
    assert n_for_halfwidth(0.9) == 865
    assert n_for_halfwidth(0.5) == 2401
    assert n_for_halfwidth(0.5, halfwidth=0.05) == 385
    assert n_for_halfwidth(1.0) == n_for_halfwidth(0.99) == 96


def test_classification_report_hand_counted():
    classes = ["cat", "dog", "owl"]
    y = [0, 0, 1, 2, 2, 2]
    # predictions (argmax): 0, 1, 1, 2, 2, 0 -> 4 correct
    logits = torch.tensor([
        [3.0, 1.0, 0.0],
        [1.0, 2.0, 0.0],
        [0.0, 5.0, 1.0],
        [0.0, 1.0, 2.0],
        [1.0, 0.0, 4.0],
        [2.0, 0.0, 1.0],
    ])
    body = classification_report(y, logits, classes, k=2)
    assert body["n"] == 6 and body["correct"] == 4
    assert body["accuracy"] == pytest.approx(4 / 6)
    assert body["ci95"] == pytest.approx(list(wilson_by_formula(4, 6)))
    assert body["ci_method"] == "wilson" and body["split"] == "test"
    # top-2: item 5 (true 2, scores 2,0,1) has class 2 second -> in; item 1 (true 0, 1,2,0) in -> all 6
    assert body["top_k"] == {"1": pytest.approx(4 / 6), "2": 1.0}
    per = {c["class"]: c for c in body["per_class"]}
    # cat: predicted {0, 5}, correct {0} -> P 1/2; true {0, 1} -> R 1/2
    assert per["cat"] == {"class": "cat", "precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    # dog: predicted {1, 2}, correct {2} -> P 1/2, R 1/1, F1 2/3
    assert per["dog"]["precision"] == 0.5 and per["dog"]["recall"] == 1.0 and per["dog"]["f1"] == pytest.approx(2 / 3)
    # owl: predicted {3, 4} both right -> P 1; R 2/3; F1 0.8
    assert per["owl"]["precision"] == 1.0 and per["owl"]["recall"] == pytest.approx(2 / 3) and per["owl"]["f1"] == pytest.approx(0.8)
    assert body["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0.8) / 3)
    assert body["n_for_pm2"] == math.ceil(Z95**2 * (4 / 6) * (2 / 6) / 0.02**2)


def test_classification_report_binary_and_absent_class():
    logits = np.array([[0.2, 0.8], [0.9, 0.1], [0.4, 0.6]])
    body = classification_report([1, 1, 1], logits, ["rotten", "fresh"])
    assert body["correct"] == 2 and body["top_k"] == {"1": pytest.approx(2 / 3)}  # no top-5 of 2 classes
    # class 0 never true: precision 0 (one false positive), recall undefined -> 0, support 0
    assert body["per_class"][0] == {"class": "rotten", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_top_k_accuracy_multiclass():
    scores = np.array([[0.1, 0.5, 0.4, 0.0], [0.7, 0.2, 0.06, 0.04], [0.1, 0.2, 0.3, 0.4]])
    y = np.array([2, 1, 0])  # true class ranks 2nd, 2nd and 4th
    assert [top_k_accuracy(y, scores, k) for k in (1, 2, 3, 4)] == pytest.approx([0.0, 2 / 3, 2 / 3, 1.0])


def test_classification_report_shape_errors():
    with pytest.raises(ClassifykitError, match=r"expected \(2, 3\) for 3 classes"):
        classification_report([0, 1], np.zeros((2, 2)), ["a", "b", "c"])
    with pytest.raises(ClassifykitError, match=r"in 0..1; found 0..4"):
        classification_report([0, 4], np.zeros((2, 2)), ["a", "b"])


def test_macro_f1_ignores_classes_absent_from_the_split():
    # Class 2 has no test item (it was too small to split): it has no F1 to average in.
    import numpy as np

    from classifykit.engine.metrics import classification_report

    y = np.array([0, 0, 1, 1])
    logits = np.array([[2.0, 0, 0], [2, 0, 0], [0, 2, 0], [2, 0, 0]])  # one class-1 item called 0
    report = classification_report(y, logits, ["a", "b", "c"], k=2)
    f1_a, f1_b = 2 * (2 / 3) * 1 / (2 / 3 + 1), 2 * 1 * 0.5 / 1.5
    assert report["macro_f1"] == pytest.approx((f1_a + f1_b) / 2)
    assert [c["support"] for c in report["per_class"]] == [2, 2, 0]


def test_confusion_scores_match_scikit_learn():
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix

    from classifykit.engine.metrics import confusion_scores

    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 200)
    y[y == 3] = 0  # class 3 has no item: left out of macro-F1 and balanced accuracy, recall NaN
    pred = np.where(rng.random(200) < 0.7, y, rng.integers(0, 4, 200))
    pred[pred == 2] = 1  # class 2 is never predicted: recall 0
    out = confusion_scores(confusion_matrix(y, pred, labels=range(4)))
    logits = np.eye(4)[pred]
    report = classification_report(y, logits, ["a", "b", "c", "d"])
    assert out["acc"] == pytest.approx(report["accuracy"]) and out["macro_f1"] == pytest.approx(report["macro_f1"])
    assert out["balanced_acc"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert out["recall"][2] == 0.0 and np.isnan(out["recall"][3]) and out["support"][3] == 0
@pytest.mark.parametrize("num_classes, keys", [(2, ["1"]), (4, ["1"]), (5, ["1"]), (6, ["1", "5"])])
def test_top_k_only_below_the_number_of_classes(num_classes, keys):
    """Issue 14: `top-5 100.0%` was reported for 2- and 4-class tasks."""
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((20, num_classes))
    y = rng.integers(0, num_classes, 20)
    body = classification_report(y, logits, [f"c{i}" for i in range(num_classes)], k=5)
    assert list(body["top_k"]) == keys
    if "5" in keys:
        assert body["top_k"]["5"] == pytest.approx(top_k_accuracy(y, logits, 5)) and body["top_k"]["5"] < 1.0


def test_cli_evaluation_lines_have_no_trivial_top_k(capsys, tmp_path):
    from classifykit.cli.evaluate import print_evaluation

    logits = np.array([[0.2, 0.8], [0.9, 0.1], [0.4, 0.6]])
    print_evaluation(classification_report([1, 0, 0], logits, ["rotten", "fresh"]), tmp_path)
    out = capsys.readouterr().out
    assert "top-1 66.7%" in out and "top-5" not in out
