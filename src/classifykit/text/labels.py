"""Label values of any type -> canonical label strings -> int64 class indices, through ``classes.json``.

Canonical form (applied to every raw label, from CSV cells, JSON values or folder names):

* surrounding whitespace is stripped (``" pos "`` -> ``"pos"``);
* every other character is kept as the user wrote it (case is significant: ``"Pos"`` and ``"pos"``
  are two classes; labels are user data, so they are not merged, but :func:`case_collision_warnings`
  names such look-alike classes); so are numbers: ``"0.0"``/``"1.0"`` stay ``"0.0"``/``"1.0"``
  (issue 15, defect 7); JSON numbers are written as Python does (``1`` -> ``"1"``, ``1.0`` ->
  ``"1.0"``) and JSON ``true``/``false`` become ``"true"``/``"false"``.

Numeric unification (:func:`unify_numeric_labels`, applied to a whole corpus): spellings of one
finite number (``"1"``, ``"1.0"``, ``"01"``, JSON ``1``) are one class, named by its most common
spelling in the data, and a note says which spellings were merged.

Class order (index order, as saved in ``classes.json``): numeric order when every class is a number
(so ``-1, 1`` and ``1, 2, …, 10``), else the sorted label strings (Python's code-point order).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from classifykit.errors import ClassifykitError


def canonical_label(value: object) -> str | None:
    """The canonical label string of ``value`` (see the module docstring); None for a missing label.

    Missing means ``None`` (JSON ``null``) or an empty / whitespace-only string.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value.strip() if isinstance(value, str) else str(value)
    return text or None


def _number_key(label: str) -> float | None:
    """The finite number ``label`` spells, or None (text, ``nan``, ``inf``)."""
    number = _as_number(label)
    return number if number is not None and math.isfinite(number) else None


def unify_numeric_labels(labels: Sequence[str]) -> tuple[list[str], list[str]]:
    """Merge spellings of one number into one class: ``(labels, notes)``.

    Every label whose value is the same finite number as another spelling (``"1"`` and ``"1.0"``)
    becomes that number's most common spelling in ``labels`` (on a tie the first in string order);
    other labels are unchanged. ``notes`` has one line per merged number, naming the spellings and
    their row counts, e.g. ``labels '1' (3 rows) and '1.0' (1 row) are the same number; they are one
    class, '1'.``
    """
    counts = Counter(labels)
    spellings: dict[float, list[str]] = {}
    for label in counts:
        number = _number_key(label)
        if number is not None:
            spellings.setdefault(number, []).append(label)
    rename, notes = {}, []
    for number in sorted(spellings):
        group = sorted(spellings[number])
        if len(group) < 2:
            continue
        name = min(group, key=lambda label: (-counts[label], label))
        rename.update({label: name for label in group})
        named = [f"{label!r} ({counts[label]:,} row{'s' if counts[label] != 1 else ''})" for label in group]
        notes.append(f"labels {', '.join(named[:-1])} and {named[-1]} are the same number; "
                     f"they are one class, {name!r}.")
    return [rename.get(label, label) for label in labels], notes


def align_labels(labels: Sequence[str], classes: Sequence[str]) -> list[str]:
    """``labels`` of new data with each spelling of a trained class's number replaced by that class
    (a run trained on ``"1.0"`` evaluates data labelled ``"1"``); other labels are unchanged."""
    by_number = {_number_key(c): c for c in classes if _number_key(c) is not None}
    known = set(classes)
    return [label if label in known else by_number.get(_number_key(label), label) for label in labels]


def _as_number(label: str) -> float | None:
    try:
        return float(label)
    except ValueError:
        return None


def sort_classes(labels: Iterable[str]) -> list[str]:
    """Unique canonical labels in class-index order (numeric when all are numbers, else string order)."""
    unique = set(labels)
    numbers = {label: _as_number(label) for label in unique}
    if unique and all(n is not None and math.isfinite(n) for n in numbers.values()):
        return sorted(unique, key=lambda label: (numbers[label], label))
    return sorted(unique)


def _lookalike_key(label: str) -> str:
    return " ".join(label.split()).casefold()


def case_collisions(labels: Iterable[str]) -> list[list[tuple[str, int]]]:
    """Groups of two or more distinct canonical labels that differ only in case or inner spacing
    (``"Pos"``/``"pos"``, ``"very good"``/``"Very  good"``), each as ``[(label, count), ...]`` in class
    order; the groups ordered by their first label. Empty when no labels collide.
    """
    counts = Counter(labels)
    groups: dict[str, list[str]] = {}
    for label in counts:
        groups.setdefault(_lookalike_key(label), []).append(label)
    found = [sorted(group) for group in groups.values() if len(group) > 1]
    return [[(label, counts[label]) for label in group] for group in sorted(found)]


def case_collision_warnings(labels: Iterable[str]) -> list[str]:
    """One warning line per :func:`case_collisions` group, naming the labels and their row counts."""
    lines = []
    for group in case_collisions(labels):
        named = [f"{label!r} ({n:,} row{'s' if n != 1 else ''})" for label, n in group]
        listed = f"{', '.join(named[:-1])} and {named[-1]}"
        names = [label for label, _ in group]
        if len({name.casefold() for name in names}) == 1:
            how = "case"
        elif len({" ".join(name.split()) for name in names}) == 1:
            how = "spacing"
        else:
            how = "case and spacing"
        lines.append(f"warning: labels {listed} differ only in {how}; they are separate classes. "
                     "Fix the label column if they are the same class.")
    return lines


class LabelTable:
    """The mapping between class names (``classes.json``) and int64 class indices."""

    def __init__(self, classes: Sequence[str]):
        self.classes = list(classes)
        self.index = {name: i for i, name in enumerate(self.classes)}

    @classmethod
    def from_labels(cls, labels: Iterable[str]) -> LabelTable:
        """Build from canonical labels. Raises :class:`ClassifykitError` with fewer than two classes."""
        classes = sort_classes(labels)
        if len(classes) < 2:
            raise ClassifykitError(
                f"Found {len(classes)} class(es) {classes}; a classifier needs at least two. "
                "Check --label-column."
            )
        return cls(classes)

    def encode(self, labels: Sequence[str], source: str = "the data") -> np.ndarray:
        """Class indices (int64 ``N``) of canonical ``labels``.

        Raises:
            ClassifykitError: a label is not in the table (names it and the known classes).
        """
        out = np.empty(len(labels), dtype=np.int64)
        for i, label in enumerate(labels):
            try:
                out[i] = self.index[label]
            except KeyError:
                raise ClassifykitError(
                    f"{source}: label {label!r} is not one of the trained classes {self.classes}."
                ) from None
        return out
