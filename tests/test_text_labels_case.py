"""Labels that differ only in case or spacing stay separate classes, but are named in one warning."""

import csv

from classifykit.config import TextConfig
from classifykit.io import read_json
from classifykit.tasks.pipeline import train as train_text
from classifykit.text.labels import LabelTable, canonical_label, case_collision_warnings, case_collisions


def test_case_variants_are_grouped_with_their_counts():
    labels = ["pos"] * 3400 + ["Pos"] * 12 + ["neg"] * 50
    assert case_collisions(labels) == [[("Pos", 12), ("pos", 3400)]]
    assert case_collision_warnings(labels) == [
        "warning: labels 'Pos' (12 rows) and 'pos' (3,400 rows) differ only in case; they are separate classes. "
        "Fix the label column if they are the same class."
    ]
    assert LabelTable.from_labels(labels).classes == ["Pos", "neg", "pos"]  # still three classes


def test_raw_cells_after_canonicalisation():
    # surrounding spaces are stripped by canonical_label (" pos " is "pos"); only case remains to collide
    raw = [" pos ", "pos", "POS\t", "neg", "Neg", "neg "]
    labels = [canonical_label(v) for v in raw]
    assert case_collisions(labels) == [[("Neg", 1), ("neg", 2)], [("POS", 1), ("pos", 2)]]
    lines = case_collision_warnings(labels)
    assert len(lines) == 2
    assert lines[0].startswith("warning: labels 'Neg' (1 row) and 'neg' (2 rows) differ only in case;")
    assert lines[1].startswith("warning: labels 'POS' (1 row) and 'pos' (2 rows) differ only in case;")


def test_three_variants_and_inner_spacing():
    labels = ["very good"] * 5 + ["Very good"] * 2 + ["VERY GOOD"] + ["very  good"] * 4 + ["bad"] * 9
    assert case_collisions(labels) == [[("VERY GOOD", 1), ("Very good", 2), ("very  good", 4), ("very good", 5)]]
    assert case_collision_warnings(labels) == [
        "warning: labels 'VERY GOOD' (1 row), 'Very good' (2 rows), 'very  good' (4 rows) and 'very good' (5 rows) "
        "differ only in case and spacing; they are separate classes. Fix the label column if they are the same class."
    ]
    assert case_collision_warnings(["a b", "a  b", "c"])[0].startswith(
        "warning: labels 'a  b' (1 row) and 'a b' (1 row) differ only in spacing;")


def test_no_collisions():
    assert case_collisions(["pos", "neg", "1", "10", "Positive"]) == []
    assert case_collision_warnings(["pos", "neg"]) == []
    assert case_collisions([]) == []


def test_train_text_prints_the_warning_once(tmp_path, capsys):
    data = tmp_path / "reviews.csv"
    with open(data, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for i in range(60):
            w.writerow(["good great film" if i % 2 else "bad awful film", "pos" if i % 2 else "neg"])
        w.writerows([["lovely film", "Pos"], ["superb film", "Pos"], ["fine film", "Pos"]])
    cfg = TextConfig(data=str(data), runs_dir=str(tmp_path / "runs"), name="r", epochs=1, batch_size=16, embed_dim=8,
                     hidden_size=8, min_freq=1, max_length=6, device="cpu", num_workers=0, model="lstm")
    run = train_text(cfg)
    out = capsys.readouterr().err  # a data warning: on stderr
    warning = ("warning: labels 'Pos' (3 rows) and 'pos' (30 rows) differ only in case; they are separate classes. "
               "Fix the label column if they are the same class.")
    assert out.count(warning) == 1
    assert read_json(run / "classes.json") == ["Pos", "neg", "pos"]
