"""The optional blocks of eval.json that the report shows when present, read into dataclasses.

Fractions are 0..1, times in seconds, intervals ``[lo, hi]``. A key marked *optional* may be absent
or null; every other key of a present block is required. Shapes (also in docs/CONTRACTS.md)::

    "baselines": [                          # headline: the model beside each baseline, same test items
      {"name": "majority class", "accuracy": 0.575, "ci95": [0.53, 0.62], "macro_f1": 0.18,
       "macro_f1_ci95": [0.16, 0.20],       # optional
       "seconds": 0.01,                     # optional: fit + predict time
       "paired_test": {                     # optional: the model vs this baseline on the same items
         "method": "McNemar exact",         # shown as written
         "model_only": 40,                  # items the model gets right and the baseline wrong
         "baseline_only": 12,               # the reverse
         "p_value": 0.0001}}]               # two-sided
    "macro_f1_ci95": [0.85, 0.90]           # optional, top level: the model's own macro-F1 interval
    "findings": [                           # Diagnosis, before the training diagnoses
      {"severity": "error" | "warning" | "info" | "ok", "title": "At chance", "detail": "53.3% [48.3, 58.3] ...",
       "fix": "Train longer or ...",        # optional
       "items": ["train/a.png ~ test/b.png", ...]}]   # optional: e.g. the near-duplicate pairs
    "calibration": {                        # Calibration section
      "method": "temperature scaling", "temperature": 1.7, "fitted_on": "val", "n_bins": 15,
      "ece_before": 0.081, "ece_after": 0.019,        # expected calibration error on eval.json's split
      "reliability_before": {"confidence": [...], "accuracy": [...], "count": [...]},  # optional,
      "reliability_after": {...}}           # optional; one entry per non-empty bin, same length each
    "candidates": [                         # Candidates table (auto recipe)
      {"name": "ngram-linear", "val_accuracy": 0.78,
       "val_macro_f1": 0.77, "test_accuracy": 0.76, "test_macro_f1": 0.75,   # optional
       "seconds": 9.1,                      # optional
       "chosen": true}]                     # optional (false when absent)

ECE and the reliability bins follow Guo et al. (2017), "On Calibration of Modern Neural Networks"
(ICML): equal-width confidence bins, ECE = Σ (bin count / n) · |accuracy − confidence|.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from classifykit import runfolder as rf
from classifykit.errors import ClassifykitError

SEVERITIES = ("error", "warning", "info", "ok")
ALPHA = 0.05  # significance level of the paired test's verdict


@dataclass(frozen=True)
class PairedTest:
    """The model against one baseline on the same test items (e.g. McNemar's test)."""

    method: str
    model_only: int
    baseline_only: int
    p_value: float

    @property
    def verdict(self) -> str:
        """``"better"``, ``"worse"`` (significant at :data:`ALPHA`) or ``"no clear difference"``."""
        if self.p_value < ALPHA and self.model_only != self.baseline_only:
            return "better" if self.model_only > self.baseline_only else "worse"
        return "no clear difference"


@dataclass(frozen=True)
class Baseline:
    """One baseline's scores on the model's test split."""

    name: str
    accuracy: float
    ci95: tuple[float, float]
    macro_f1: float
    macro_f1_ci95: tuple[float, float] | None = None
    seconds: float | None = None
    paired_test: PairedTest | None = None


@dataclass(frozen=True)
class EvalFinding:
    """One diagnosis from the evaluation, with a plain fix."""

    severity: str
    title: str
    detail: str
    fix: str | None = None
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reliability:
    """Per-bin mean confidence, accuracy and item count (non-empty bins only), each of length B."""

    confidence: tuple[float, ...]
    accuracy: tuple[float, ...]
    count: tuple[int, ...]


@dataclass(frozen=True)
class Calibration:
    """Temperature scaling fitted on ``fitted_on``; ECE before and after on eval.json's split."""

    method: str
    temperature: float
    fitted_on: str
    n_bins: int
    ece_before: float
    ece_after: float
    reliability_before: Reliability | None = None
    reliability_after: Reliability | None = None


@dataclass(frozen=True)
class Candidate:
    """One candidate model of a comparison, with its scores and time."""

    name: str
    val_accuracy: float
    val_macro_f1: float | None = None
    test_accuracy: float | None = None
    test_macro_f1: float | None = None
    seconds: float | None = None
    chosen: bool = False


@dataclass(frozen=True)
class EvalBlocks:
    """Every optional block of one eval.json; None (or empty) where absent."""

    baselines: tuple[Baseline, ...] = ()
    macro_f1_ci95: tuple[float, float] | None = None
    findings: tuple[EvalFinding, ...] = ()
    calibration: Calibration | None = None
    candidates: tuple[Candidate, ...] = ()


class _Reader:
    """Typed field access that names eval.json and the key path in every error."""

    def __init__(self, where: str):
        self.where = where

    def fail(self, key: str, expected: str, value: Any) -> ClassifykitError:
        return ClassifykitError(f"{rf.EVAL}: {self.where}{key} is {value!r}, expected {expected}; "
                                f"the file is damaged or from another tool — rerun classifykit evaluate.")

    def get(self, d: dict, key: str, kind: str, optional: bool = False) -> Any:
        """``d[key]`` checked to be of ``kind`` (number, count, text, interval, bool, object, list)."""
        return self.check(key, d.get(key), kind, optional)

    def check(self, key: str, value: Any, kind: str, optional: bool = False) -> Any:
        if value is None:
            if optional:
                return None
            raise self.fail(key, f"a {kind}", value)
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise self.fail(key, "a finite number", value)
            return float(value)
        if kind == "count":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise self.fail(key, "a count (integer ≥ 0)", value)
            return value
        if kind == "text":
            if not isinstance(value, str):
                raise self.fail(key, "a string", value)
            return value
        if kind == "interval":
            if (not isinstance(value, (list, tuple)) or len(value) != 2
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
                raise self.fail(key, "[lo, hi]", value)
            return float(value[0]), float(value[1])
        if kind == "bool":
            if not isinstance(value, bool):
                raise self.fail(key, "true or false", value)
            return value
        if kind in ("object", "list"):
            if not isinstance(value, dict if kind == "object" else list):
                raise self.fail(key, "an object" if kind == "object" else "a list", value)
            return value
        raise ValueError(kind)

    def at(self, suffix: str) -> _Reader:
        return _Reader(f"{self.where}{suffix}")


def _items(ev: dict, key: str) -> list[tuple[_Reader, dict]]:
    values = _Reader("").get(ev, key, "list", optional=True) or []
    out = []
    for i, value in enumerate(values):
        r = _Reader(f"{key}[{i}].")
        if not isinstance(value, dict):
            raise r.fail("", "an object", value)
        out.append((r, value))
    return out


def _reliability(r: _Reader, d: dict, key: str) -> Reliability | None:
    block = r.get(d, key, "object", optional=True)
    if block is None:
        return None
    rr = r.at(f"{key}.")
    columns = {k: rr.get(block, k, "list") for k in ("confidence", "accuracy", "count")}
    if len({len(v) for v in columns.values()}) != 1:
        raise rr.fail("", "confidence, accuracy and count of equal length",
                      {k: len(v) for k, v in columns.items()})
    def column(key: str, kind: str) -> tuple:
        return tuple(rr.check(f"{key}[{i}]", v, kind) for i, v in enumerate(columns[key]))

    return Reliability(column("confidence", "number"), column("accuracy", "number"), column("count", "count"))


def read_blocks(ev: dict | None) -> EvalBlocks:
    """The optional blocks of an eval.json body (see the module docstring for their shapes).

    Raises:
        ClassifykitError: a present block has a missing or mistyped key (the message names it).
    """
    if not ev:
        return EvalBlocks()
    baselines = []
    for r, b in _items(ev, "baselines"):
        test = r.get(b, "paired_test", "object", optional=True)
        paired = None
        if test is not None:
            t = r.at("paired_test.")
            paired = PairedTest(t.get(test, "method", "text"), t.get(test, "model_only", "count"),
                                t.get(test, "baseline_only", "count"), t.get(test, "p_value", "number"))
        baselines.append(Baseline(r.get(b, "name", "text"), r.get(b, "accuracy", "number"),
                                  r.get(b, "ci95", "interval"), r.get(b, "macro_f1", "number"),
                                  r.get(b, "macro_f1_ci95", "interval", optional=True),
                                  r.get(b, "seconds", "number", optional=True), paired))
    findings = []
    for r, f in _items(ev, "findings"):
        severity = r.get(f, "severity", "text")
        if severity not in SEVERITIES:
            raise r.fail("severity", " or ".join(map(repr, SEVERITIES)), severity)
        items = r.get(f, "items", "list", optional=True) or []
        findings.append(EvalFinding(severity, r.get(f, "title", "text"), r.get(f, "detail", "text"),
                                    r.get(f, "fix", "text", optional=True), tuple(str(i) for i in items)))
    calibration = None
    block = _Reader("").get(ev, "calibration", "object", optional=True)
    if block is not None:
        r = _Reader("calibration.")
        calibration = Calibration(
            r.get(block, "method", "text"), r.get(block, "temperature", "number"), r.get(block, "fitted_on", "text"),
            r.get(block, "n_bins", "count"), r.get(block, "ece_before", "number"), r.get(block, "ece_after", "number"),
            _reliability(r, block, "reliability_before"), _reliability(r, block, "reliability_after"))
    candidates = [Candidate(r.get(c, "name", "text"), r.get(c, "val_accuracy", "number"),
                            r.get(c, "val_macro_f1", "number", optional=True),
                            r.get(c, "test_accuracy", "number", optional=True),
                            r.get(c, "test_macro_f1", "number", optional=True),
                            r.get(c, "seconds", "number", optional=True),
                            bool(r.get(c, "chosen", "bool", optional=True)))
                  for r, c in _items(ev, "candidates")]
    return EvalBlocks(tuple(baselines), _Reader("").get(ev, "macro_f1_ci95", "interval", optional=True),
                      tuple(findings), calibration, tuple(candidates))
