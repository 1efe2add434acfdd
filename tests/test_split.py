"""stratified_split / complete_preset_split / write_split / read_split."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from classifykit.data.scan import scan_folder
from classifykit.data.split import (
    SmallClassWarning,
    complete_preset_split,
    read_split,
    stratified_split,
    write_split,
)
from classifykit.errors import ClassifykitError

KEYS = [f"{c}/{i:03d}.png" for c in "abcd" for i in range(25)]
LABELS = [k[0] for k in KEYS]


def test_default_shares_are_60_15_25_within_every_class() -> None:
    split = stratified_split(KEYS, LABELS, seed=0)
    assert Counter(split.values()) == {"train": 60, "val": 15, "test": 25}
    per_class = Counter((k[0], s) for k, s in split.items())
    for c in "abcd":  # 25 per class: 6.25 test and 3.75 val, rounded either way
        assert per_class[c, "val"] in (3, 4) and per_class[c, "test"] in (6, 7)
        assert per_class[c, "train"] == 25 - per_class[c, "val"] - per_class[c, "test"]


def test_split_depends_only_on_pairs_and_seed() -> None:
    base = stratified_split(KEYS, LABELS, seed=3)
    pairs = list(zip(KEYS, LABELS))
    random.Random(1).shuffle(pairs)
    shuffled = stratified_split([k for k, _ in pairs], [l for _, l in pairs], seed=3)
    assert shuffled == base
    assert stratified_split(KEYS, LABELS, seed=4) != base


_CHILD = """
import json, sys
from classifykit.data.split import stratified_split
keys = [f"{c}/{i:03d}.png" for c in "abcd" for i in range(25)]
print(json.dumps(stratified_split(keys, [k[0] for k in keys], seed=7), sort_keys=True))
"""


def test_same_split_from_two_separate_processes() -> None:
    children = [
        subprocess.Popen([sys.executable, "-c", _CHILD], env={**os.environ, "PYTHONHASHSEED": h}, stdout=subprocess.PIPE, text=True)
        for h in ("1", "2")
    ]
    outs = [c.communicate(timeout=120)[0] for c in children]
    assert [c.returncode for c in children] == [0, 0]
    assert outs[0] == outs[1]
    assert json.loads(outs[0]) == stratified_split(KEYS, LABELS, seed=7)


def test_same_split_whatever_order_the_files_were_created_in(tmp_path: Path) -> None:
    names = [(c, f"{i:02d}.png") for c in ("x", "y") for i in range(10)]
    splits = []
    shuffled = list(names)
    random.Random(5).shuffle(shuffled)
    for folder, order in (("one", names), ("two", shuffled)):
        for c, n in order:
            (tmp_path / folder / c).mkdir(parents=True, exist_ok=True)
            Image.new("L", (4, 4), int(n[:2])).save(tmp_path / folder / c / n)
        r = scan_folder(tmp_path / folder, progress=False)
        splits.append(stratified_split([it.path for it in r.items], [it.label for it in r.items], seed=0))
    assert splits[0] == splits[1]
    assert Counter(splits[0].values()) == {"train": 12, "val": 3, "test": 5}


def test_classes_too_small_go_to_train_with_a_message_naming_them() -> None:
    keys = [f"k{i}" for i in range(24)]
    labels = ["big"] * 20 + ["one"] + ["two", "two"] + ["three"]
    with pytest.warns(SmallClassWarning) as rec:
        split = stratified_split(keys, labels, seed=0)
    assert str(rec[0].message) == (
        "3 class(es) have fewer than 3 items, too few for one in each split, and go to train only "
        "(val/test will not measure them): 'one' (1), 'three' (1), 'two' (2). Add items to these classes or remove them."
    )
    assert [split[k] for k in ("k20", "k21", "k22", "k23")] == ["train"] * 4
    assert Counter(split[k] for k in keys[:20]) == {"train": 12, "val": 3, "test": 5}


def test_without_val_a_class_of_two_is_enough() -> None:
    split = stratified_split(["a", "b", "c", "d"], ["x", "x", "y", "y"], val_ratio=0.0, test_ratio=0.5)
    assert Counter((k in "ab", s) for k, s in split.items()) == {(True, "train"): 1, (True, "test"): 1, (False, "train"): 1, (False, "test"): 1}


@pytest.mark.parametrize(
    "val, test, message",
    [
        (-0.1, 0.25, r"--val-ratio -0\.1: must be at least 0 and below 1"),
        (0.15, 1.0, r"--test-ratio 1\.0: must be at least 0 and below 1"),
        (0.5, 0.5, r"--val-ratio 0\.5 \+ --test-ratio 0\.5 = 1 leaves nothing to train on"),
    ],
)
def test_bad_ratios_name_the_option(val: float, test: float, message: str) -> None:
    with pytest.raises(ClassifykitError, match=message):
        stratified_split(KEYS, LABELS, val_ratio=val, test_ratio=test)


def test_too_few_items_to_stratify_is_a_clear_error() -> None:
    keys = [f"k{i}" for i in range(30)]
    labels = [f"c{i % 10}" for i in range(30)]  # 10 classes of 3: an 8-item test set cannot hold all 10
    with pytest.raises(
        ClassifykitError,
        match=r"Cannot make a stratified test split of 30 items in 10 classes \(The test_size = 8 should be greater or equal "
        r"to the number of classes = 10\)\. Change --test-ratio or add items so every class has several\.",
    ):
        stratified_split(keys, labels)


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(ClassifykitError, match=r"Item 'a' is listed more than once"):
        stratified_split(["a", "a", "b"], ["x", "x", "y"])


def test_preset_split_is_kept_and_val_carved_from_train() -> None:
    preset = {k: ("test" if int(k[2:5]) >= 20 else "train") for k in KEYS}
    labels = dict(zip(KEYS, LABELS))
    out = complete_preset_split(preset, labels, val_ratio=0.15, seed=0)
    assert Counter(out.values()) == {"train": 65, "val": 15, "test": 20}
    assert all(out[k] == "test" for k, s in preset.items() if s == "test")
    assert sorted(Counter(labels[k] for k, s in out.items() if s == "val").values()) == [3, 4, 4, 4]
    with_val = {**preset, KEYS[0]: "val"}
    assert complete_preset_split(with_val, labels) == with_val


def test_preset_train_class_of_one_stays_in_train_with_a_message() -> None:
    preset = {"a1": "train", "a2": "train", "a3": "train", "a4": "train", "b1": "train", "a5": "test", "b2": "test"}
    labels = {k: k[0] for k in preset}
    with pytest.warns(SmallClassWarning, match=r"1 class\(es\) have fewer than 2 items, too few for one in train and one in val.*'b' \(1\)"):
        out = complete_preset_split(preset, labels, val_ratio=0.15, seed=0)
    assert out["b1"] == "train" and out["a5"] == out["b2"] == "test"
    # 0.15 × 7 items = 1.05 val items, rounded up as scikit-learn does (ceil of the test size)
    assert Counter(out[k] for k in ("a1", "a2", "a3", "a4")) == {"train": 2, "val": 2}


def test_write_and_read_split(tmp_path: Path) -> None:
    split = {"b/1.png": "val", "a/2.png": "train", 'é, "q".png': "test"}
    labels = {"b/1.png": "b", "a/2.png": "a", 'é, "q".png': "é"}
    write_split(tmp_path / "split.csv", split, labels)
    assert (tmp_path / "split.csv").read_text(encoding="utf-8") == (
        'item,label,split\na/2.png,a,train\nb/1.png,b,val\n"é, ""q"".png",é,test\n'
    )
    assert read_split(tmp_path / "split.csv") == split
    (tmp_path / "bad.csv").write_text("item,label,split\nx,a,train\ny,a,holdout\n", encoding="utf-8")
    with pytest.raises(ClassifykitError, match=r"bad\.csv, line 3: split 'holdout' is not one of train, val, test"):
        read_split(tmp_path / "bad.csv")
    with pytest.raises(ClassifykitError, match=r"none\.csv: no such file"):
        read_split(tmp_path / "none.csv")
