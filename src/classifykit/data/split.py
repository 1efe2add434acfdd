"""Stratified, seeded train/val/test split, written once to ``split.csv`` and reused by every stage.

The split depends only on the set of ``(key, label)`` pairs, the ratios and the seed: keys are
sorted before splitting and scikit-learn's ``train_test_split(stratify=…, random_state=seed)``
draws from NumPy's seeded generator (no Python ``hash()``, no file-system order), so the same
manifest gives the same split in any process on any machine with the same scikit-learn.

Default shares are 60/15/25: the test set gets the larger held-out share because accuracy on a
small test set is unstable (the 95 % interval half-width shrinks only as 1/sqrt(n)).

Classes too small to stratify (fewer items than the number of non-empty splits) are put wholly in
train and reported with a :class:`SmallClassWarning` naming them and their counts: the model can
still learn them, but val/test say nothing about them.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Hashable, Sequence

from classifykit.errors import ClassifykitError
from classifykit.io import read_csv_rows, write_csv

SPLITS = ("train", "val", "test")
SPLIT_COLUMNS = ("item", "label", "split")


class SmallClassWarning(UserWarning):
    """Some classes have too few items to appear in every split; they were put in train only."""


def check_ratios(val_ratio: float, test_ratio: float) -> None:
    """Raise :class:`ClassifykitError` naming ``--val-ratio``/``--test-ratio`` unless both are in
    [0, 1) and leave a non-empty train share."""
    for name, value in (("--val-ratio", val_ratio), ("--test-ratio", test_ratio)):
        if not 0.0 <= value < 1.0:
            raise ClassifykitError(f"{name} {value}: must be at least 0 and below 1 (a share of the items, e.g. 0.15).")
    if val_ratio + test_ratio >= 1.0:
        raise ClassifykitError(
            f"--val-ratio {val_ratio} + --test-ratio {test_ratio} = {val_ratio + test_ratio:g} leaves nothing to train on; "
            f"make the sum below 1 (default 0.15 + 0.25)."
        )


def _warn_small_classes(counts: Counter, need: int, what: str, stacklevel: int) -> list[str]:
    """Sorted classes with fewer than ``need`` items, announced with a :class:`SmallClassWarning`."""
    small = sorted(c for c, n in counts.items() if n < need)
    if small:
        warnings.warn(
            SmallClassWarning(
                f"{len(small)} class(es) have fewer than {need} items, too few for {what}, and go to train only "
                f"(val/test will not measure them): " + ", ".join(f"{c!r} ({counts[c]})" for c in small)
                + ". Add items to these classes or remove them."
            ),
            stacklevel=stacklevel,
        )
    return small


def _carve(keys: list, labels: list[str], share: float, seed: int, name: str) -> tuple[list, list]:
    """Split ``keys`` into ``(rest, carved)`` with ``share`` of them carved out, stratified by label."""
    from sklearn.model_selection import train_test_split

    if share <= 0.0 or not keys:
        return keys, []
    try:
        rest, carved = train_test_split(keys, test_size=share, stratify=labels, random_state=seed, shuffle=True)
    except ValueError as e:  # e.g. fewer test items than classes
        raise ClassifykitError(
            f"Cannot make a stratified {name} split of {len(keys)} items in {len(set(labels))} classes ({e}). "
            f"Change --{name}-ratio or add items so every class has several."
        ) from None
    return list(rest), list(carved)


def stratified_split(
    keys: Sequence[Hashable],
    labels: Sequence[str],
    *,
    val_ratio: float = 0.15,
    test_ratio: float = 0.25,
    seed: int = 0,
) -> dict:
    """Assign each key to ``"train"``, ``"val"`` or ``"test"``, stratified by label.

    Test is drawn first (``test_ratio`` of all items), then val (``val_ratio`` of all items) from
    the rest, each with ``sklearn.model_selection.train_test_split(stratify=labels,
    random_state=seed)``; per class the shares match the ratios up to rounding.

    Args:
        keys: unique, mutually comparable item keys (manifest paths or text row numbers).
        labels: class of each key, same length.

    Returns:
        ``{key: split}`` for every key.

    Warns:
        SmallClassWarning: classes with fewer items than the non-empty splits go to train only.

    Raises:
        ClassifykitError: bad ratios (names ``--val-ratio``/``--test-ratio``), duplicate keys, or
            too few items to stratify.
    """
    check_ratios(val_ratio, test_ratio)
    if len(keys) != len(labels):
        raise ValueError(f"{len(keys)} keys but {len(labels)} labels")
    label_of = dict(zip(keys, labels))
    if len(label_of) != len(keys):
        dup = next(k for k, n in Counter(keys).items() if n > 1)
        raise ClassifykitError(f"Item {dup!r} is listed more than once; list each item once.")
    need = 1 + (val_ratio > 0) + (test_ratio > 0)
    small = set(_warn_small_classes(Counter(labels), need, "one in each split", stacklevel=3))
    pool = sorted(k for k in label_of if label_of[k] not in small)
    split = {k: "train" for k in label_of if label_of[k] in small}
    rest, test = _carve(pool, [label_of[k] for k in pool], test_ratio, seed, "test")
    # val_ratio is a share of all items; of what is left after test that is val / (1 - test).
    train, val = _carve(rest, [label_of[k] for k in rest], val_ratio / (1.0 - test_ratio), seed, "val")
    split.update({k: "train" for k in train})
    split.update({k: "val" for k in val})
    split.update({k: "test" for k in test})
    return split


def complete_preset_split(preset: dict, labels: dict, *, val_ratio: float = 0.15, seed: int = 0) -> dict:
    """Keep a split that came with the data (``train/``, ``val/``, ``test/`` folders).

    If there is no val part, ``val_ratio`` of all items is carved from train, stratified and
    seeded like :func:`stratified_split`; the given test part is never touched.

    Args:
        preset: ``{key: "train"|"val"|"test"}`` (e.g. ``ScanResult.preset_split``).
        labels: ``{key: label}`` for the same keys.

    Warns:
        SmallClassWarning: classes with fewer than 2 train items stay in train only.

    Raises:
        ClassifykitError: the val share does not fit in the train part.
    """
    if "val" in preset.values() or val_ratio == 0:
        return dict(preset)
    train = sorted(k for k, s in preset.items() if s == "train")
    share = val_ratio * len(preset) / len(train) if train else 1.0
    if share >= 1.0:
        raise ClassifykitError(
            f"--val-ratio {val_ratio}: {val_ratio * len(preset):.0f} val items would be carved from a train folder of "
            f"{len(train)}; lower --val-ratio."
        )
    small = set(_warn_small_classes(Counter(labels[k] for k in train), 2, "one in train and one in val", stacklevel=3))
    pool = [k for k in train if labels[k] not in small]
    out = dict(preset)
    _, val = _carve(pool, [labels[k] for k in pool], share * len(train) / len(pool) if pool else 0.0, seed, "val")
    out.update({k: "val" for k in val})
    return out


def write_split(path: str | os.PathLike, split: dict, labels: dict) -> None:
    """Write ``split.csv`` (``item,label,split``), rows sorted by item, atomically."""
    write_csv(path, SPLIT_COLUMNS, ([k, labels[k], split[k]] for k in sorted(split)))


def read_split(path: str | os.PathLike) -> dict[str, str]:
    """Read ``split.csv`` into ``{item: split}``; items are strings (text row numbers too).

    Raises:
        ClassifykitError: missing file, wrong header, or an unknown split name (names the line).
    """
    try:
        rows = read_csv_rows(path)
    except FileNotFoundError:
        raise ClassifykitError(f"{path}: no such file; run training (or scan) to create the split first.") from None
    if rows and set(SPLIT_COLUMNS) - set(rows[0]):
        raise ClassifykitError(f"{path}: expected columns {', '.join(SPLIT_COLUMNS)}, found {', '.join(rows[0])}.")
    out = {}
    for line, row in enumerate(rows, start=2):
        if row["split"] not in SPLITS:
            raise ClassifykitError(f"{path}, line {line}: split {row['split']!r} is not one of {', '.join(SPLITS)}.")
        out[row["item"]] = row["split"]
    return out
