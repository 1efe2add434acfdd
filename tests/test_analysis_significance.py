"""McNemar's test, accuracy and macro-F1 intervals (classifykit.analysis.significance)."""

import math

import numpy as np
import pytest
from sklearn.metrics import f1_score

from classifykit.analysis import significance
from classifykit.analysis.significance import accuracy_interval, macro_f1, macro_f1_interval, mcnemar
from classifykit.engine import metrics
from classifykit.errors import ClassifykitError


def _pairs(both, a_only, b_only, neither):
    a = [True] * both + [True] * a_only + [False] * b_only + [False] * neither
    b = [True] * both + [False] * a_only + [True] * b_only + [False] * neither
    return np.array(a), np.array(b)


def test_mcnemar_exact_for_small_counts():
    r = mcnemar(*_pairs(50, 8, 2, 10))
    assert (r["n"], r["b"], r["c"]) == (70, 8, 2)
    assert r["method"] == "exact binomial"
    # two-sided: 2 · P(X ≥ 8 | n=10, p=1/2) = 2 · (45 + 10 + 1) / 1024
    assert r["p_value"] == pytest.approx(112 / 1024)
    assert r["significant"] is False


def test_mcnemar_chi_square_with_continuity_correction():
    r = mcnemar(*_pairs(100, 30, 10, 5))
    assert r["method"] == "chi-square, continuity corrected"
    assert r["statistic"] == pytest.approx((20 - 1) ** 2 / 40)
    # chi-square with 1 d.f.: P(X > s) = erfc(sqrt(s / 2))
    assert r["p_value"] == pytest.approx(math.erfc(math.sqrt(9.025 / 2)))
    assert r["significant"] is True


def test_mcnemar_boundary_and_no_discordant_items():
    assert mcnemar(*_pairs(0, 13, 12, 0))["method"] == "chi-square, continuity corrected"  # b + c = 25
    assert mcnemar(*_pairs(0, 12, 12, 0))["method"] == "exact binomial"
    same = mcnemar(*_pairs(20, 0, 0, 5))
    assert same["p_value"] == 1.0 and same["b"] == same["c"] == 0
    with pytest.raises(ClassifykitError, match="same test items"):
        mcnemar([True, False], [True])


def test_wilson_interval_is_the_engine_one():
    assert significance.wilson_interval is metrics.wilson_interval
    r = accuracy_interval(np.array([True] * 81 + [False] * 19))
    assert r["accuracy"] == 0.81 and r["ci95"] == pytest.approx([0.7222, 0.8749], abs=1e-4)


def test_macro_f1_matches_sklearn_and_eval_json():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 500)
    p = np.where(rng.random(500) < 0.7, y, rng.integers(0, 4, 500))
    assert macro_f1(y, p, 4) == pytest.approx(f1_score(y, p, average="macro"))
    # a class with no test items is left out, as eval.json's macro_f1 does
    y3, p3 = np.array([0, 0, 1, 1]), np.array([0, 2, 1, 1])
    logits = np.eye(3)[p3]
    assert macro_f1(y3, p3, 3) == pytest.approx(metrics.classification_report(y3, logits, ["a", "b", "c"])["macro_f1"])


def test_macro_f1_interval_seeded_and_covering():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 2000)
    p = np.where(rng.random(2000) < 0.8, y, rng.integers(0, 3, 2000))
    lo, hi = macro_f1_interval(y, p, 3)
    assert lo < macro_f1(y, p, 3) < hi
    assert 0.02 < hi - lo < 0.06  # about ±1.8 points for n = 2,000 at F1 ≈ 0.87
    assert macro_f1_interval(y, p, 3) == (lo, hi)
    small_lo, small_hi = macro_f1_interval(y[:200], p[:200], 3)
    assert small_hi - small_lo > 2 * (hi - lo)
    perfect = macro_f1_interval(y, y, 3)
    assert perfect == (1.0, 1.0)
    with pytest.raises(ClassifykitError, match="empty"):
        macro_f1_interval([], [], 3)
