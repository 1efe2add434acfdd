"""report.diagnose: the plain-language gradient and epoch diagnoses, on synthetic series."""

import numpy as np

from classifykit.report.diagnose import (
    clipped_fraction,
    diagnose_clipping,
    diagnose_epochs,
    diagnose_explosion,
    diagnose_run,
    diagnose_vanishing,
    find_spikes,
    group_medians,
    running_median,
)


def _healthy(n=500, seed=0):
    rng = np.random.default_rng(seed)
    return np.exp(0.3 * rng.standard_normal(n))  # log-normal around 1: max/median ≈ 3 over 500 steps


def test_running_median_uses_only_previous_steps():
    x = np.array([1.0, 2.0, 3.0, 4.0, 100.0, 5.0])
    med = running_median(x, window=3, min_history=2)
    assert np.isnan(med[:2]).all()
    assert med[2:].tolist() == [1.5, 2.0, 3.0, 4.0]  # median of [1,2], [1,2,3], [2,3,4], [3,4,100]


def test_running_median_skips_non_finite_history():
    x = np.array([1.0, np.nan, np.inf, 3.0, 7.0])
    assert running_median(x, window=4, min_history=2)[4] == 2.0  # history [1, 3]


def test_healthy_series_has_no_warning():
    steps = np.arange(1, 501)
    assert diagnose_explosion(steps, _healthy()) == []
    assert find_spikes(_healthy()).size == 0


def test_spike_is_named_with_its_step():
    norms = _healthy()
    norms[300] = 50.0
    (finding,) = diagnose_explosion(np.arange(1, 501), norms, clip=None)
    assert finding.level == "warning" and finding.title == "Exploding gradients"
    assert finding.steps == (301,)
    assert "jumped to 50 at step 301" in finding.message
    assert "--clip-grad-norm 1.0" in finding.message and "Pascanu" in finding.message
    assert "lower the learning rate" in finding.message


def test_spike_with_clipping_on_says_it_was_bounded():
    norms = _healthy()
    norms[10] = 1e4
    (finding,) = diagnose_explosion(np.arange(500), norms, clip=2.0)
    assert finding.steps == (10,)
    assert "clipping was on at 2" in finding.message


def test_nan_and_skipped_steps_warn():
    norms = _healthy(50)
    norms[[20, 21]] = [np.nan, np.inf]
    skipped = np.zeros(50)
    skipped[20] = 1
    findings = diagnose_explosion(np.arange(1, 51), norms, skipped)
    assert [f.title for f in findings] == ["Non-finite gradients", "Skipped steps"]
    assert findings[0].steps == (21, 22) and "at 2 steps (steps 21, 22)" in findings[0].message
    assert findings[1].steps == (21,) and findings[1].message.startswith("1 optimizer step was skipped")


def test_vanishing_when_early_groups_are_tiny():
    late = _healthy(200)
    groups = {"embedding": 1e-4 * late, "rnn": 2e-4 * late, "fc": late}
    (finding,) = diagnose_vanishing(groups)
    assert finding.title == "Vanishing gradients"
    assert "embedding at 1.0e-04×, rnn at 2.0e-04×" in finding.message
    assert "forget-gate" in finding.message and "residual" in finding.message


def test_no_vanishing_for_comparable_groups():
    late = _healthy(200)
    assert diagnose_vanishing({"stem": 0.05 * late, "layer1": 0.3 * late, "fc": late}) == []


def test_frozen_groups_are_ignored():
    late = _healthy(100)
    groups = {"backbone": np.zeros(100), "head": late}
    assert group_medians(groups) == {"head": float(np.median(late))}
    assert diagnose_vanishing(groups) == []


def test_clipping_fraction_from_column_or_threshold():
    norms = np.array([0.5, 2.0, 3.0, 0.1])
    assert clipped_fraction(norms, np.array([0, 1, 1, 0]), 1.0) == 0.5
    assert clipped_fraction(norms, None, 2.5) == 0.25
    assert clipped_fraction(norms, None, None) is None


def test_clipping_on_most_steps_is_explained():
    norms = np.full(100, 4.0)
    finding = diagnose_clipping(norms, None, 1.0)
    assert finding.level == "info" and "acted on 100% of steps (median norm 4)" in finding.message
    assert diagnose_clipping(norms, None, 10.0).level == "ok"
    assert diagnose_clipping(norms, None, None).title == "No gradient clipping"


def test_overfitting_detected():
    epoch = np.arange(1, 7)
    train_loss = np.array([1.0, 0.7, 0.5, 0.35, 0.25, 0.15])
    val_loss = np.array([0.9, 0.7, 0.6, 0.62, 0.7, 0.8])
    val_acc = np.array([0.6, 0.7, 0.75, 0.74, 0.73, 0.72])
    (finding,) = diagnose_epochs(epoch, train_loss, val_loss, val_acc)
    assert finding.title == "Overfitting"
    assert "rose from 0.600 (epoch 3) to 0.800 (epoch 6)" in finding.message


def test_still_improving_detected():
    epoch = np.arange(1, 4)
    (finding,) = diagnose_epochs(epoch, np.array([1.0, 0.8, 0.6]), np.array([0.9, 0.8, 0.7]),
                                 np.array([0.60, 0.65, 0.70]))
    assert finding.title == "Still improving" and "rose by 5.0 points" in finding.message


def test_diagnose_run_combines_steps_and_metrics():
    norms = _healthy(100)
    norms[60] = 80.0
    steps = {"step": np.arange(1, 101, dtype=float), "grad_norm": norms, "clipped": (norms > 2.0).astype(float),
             "skipped": np.zeros(100), "gn:stem": 1e-5 * norms, "gn:fc": norms}
    titles = [f.title for f in diagnose_run(steps, None, 2.0)]
    assert titles == ["Exploding gradients", "Vanishing gradients", "Gradient clipping"]
    assert diagnose_run(None, None, None) == []


def test_no_clipping_note_advises_clipping_only_for_recurrent_models():
    norms = np.full(100, 4.0)
    cnn = diagnose_clipping(norms, None, None)
    assert cnn.message == "Clipping was off (the default for image models)." and "Recurrent" not in cnn.message
    rnn = diagnose_clipping(norms, None, None, recurrent=True)
    assert rnn.message.startswith("Clipping was off (--clip-grad-norm none). Recurrent models usually want it")
    steps = {"step": np.arange(1, 101, dtype=float), "grad_norm": norms}
    assert "Recurrent" not in diagnose_run(steps, None, None)[-1].message
    assert "Recurrent" in diagnose_run(steps, None, None, recurrent=True)[-1].message


def test_interrupted_run_says_where_training_stopped():
    epoch = np.arange(1, 8)
    val_acc = np.linspace(0.5, 0.8, 7)
    metrics = {"epoch": epoch, "train_loss": 1 / epoch, "val_loss": 1 / epoch, "val_acc": val_acc}
    interrupted, still = diagnose_run(None, metrics, None, interrupted_at=(7, 30))
    assert (interrupted.level, interrupted.title) == ("warning", "Training interrupted")
    assert interrupted.message.startswith("Training stopped at epoch 7 of 30 (interrupted): the curves")
    assert "--resume" in interrupted.message and "to run the other 23" in interrupted.message
    assert still.title == "Still improving"
    assert "training stopped at epoch 7 of 30 (interrupted), so resuming it (--resume)" in still.message
    assert "more epochs (--epochs)" not in still.message
    (finished,) = diagnose_run(None, metrics, None)
    assert "more epochs (--epochs) would likely help" in finished.message
    (none_finished,) = diagnose_run(None, None, None, interrupted_at=(0, 30))
    assert none_finished.message.startswith("Training stopped during epoch 1 of 30 (interrupted): no epoch finished")
