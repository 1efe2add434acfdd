"""Smoke test of the textbook baseline in ``bench/bench_train.py`` on real Fashion-MNIST PNGs.

The benchmark's claim (ours vs the textbook loop) is only as good as that loop, so it is run here
at a tiny size: it must train, keep ``best.mdl`` by the strictly-better rule and test all items.
"""

import sys
from pathlib import Path

import pytest
import torch

# ``bench`` is a folder at the repository root, not part of the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_train import TextbookDataset, accuracy_line, textbook_fit  # noqa: E402
from classifykit.data.fashion_mnist import CLASSES, write_image_folder  # noqa: E402
from classifykit.models.registry import create_model  # noqa: E402

pytestmark = pytest.mark.integration


def _items(root: Path, classes: list[str]) -> list[tuple[Path, int]]:
    return [(p, classes.index(p.parent.name)) for p in sorted(root.rglob("*.png"))]


def test_textbook_dataset_gives_normalized_rgb_of_the_lesson_size(tmp_path):
    write_image_folder(tmp_path, split="train", per_class=1, classes=["Trouser"], seed=0)
    items = _items(tmp_path, ["Trouser"])
    image, label = TextbookDataset(items, size=32)[0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32 and label == 0
    # Fashion-MNIST backgrounds are 0 and the rotation fills with 0: the corner is (0 - mean) / std.
    expected = torch.tensor([-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225])
    torch.testing.assert_close(image[:, 0, 0], expected)


def test_textbook_fit_trains_keeps_best_by_val_and_tests_every_item(tmp_path):
    classes = CLASSES[:2]
    write_image_folder(tmp_path / "train", split="train", per_class=8, classes=classes, seed=0)
    write_image_folder(tmp_path / "test", split="test", per_class=5, classes=classes, seed=0)
    train = _items(tmp_path / "train", classes)
    val, train = train[::4], [it for i, it in enumerate(train) if i % 4]
    test = _items(tmp_path / "test", classes)
    assert (len(train), len(val), len(test)) == (12, 4, 10)

    result = textbook_fit(train, val, test, 2, tmp_path, epochs=2, size=32, batch_size=4, workers=(0, 0))

    assert len(result.train_seconds) == len(result.val_seconds) == 2
    assert all(s > 0 for s in result.train_seconds)
    assert all(acc * 4 in (0, 1, 2, 3, 4) for acc in result.val_acc)
    # Strictly better replaces: the best epoch is the first one reaching the maximum val accuracy
    # (none is saved when every epoch scores 0, as in the lesson, which starts from best_acc 0).
    assert result.best_epoch == result.val_acc.index(max(result.val_acc)) + 1
    assert result.test_n == 10 and 0 <= result.test_correct <= 10
    saved = torch.load(tmp_path / "best.mdl", weights_only=True)
    assert saved.keys() == create_model("resnet18-small", 2, in_chans=3).state_dict().keys()


def test_accuracy_line_gives_the_wilson_interval():
    assert accuracy_line(81, 100) == "81.0% [72.2, 87.5] (81/100)"
