"""Fashion-MNIST IDX reading and the class-per-folder PNG writer (tiny fake IDX files + the real ones)."""

from __future__ import annotations

import gzip
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classifykit.data import fashion_mnist as fm
from classifykit.data.scan import scan_folder
from classifykit.errors import ClassifykitError


def write_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 2051, n, h, w) + images.tobytes())
    with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 2049, n) + labels.tobytes())


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """Fake IDX files: 12 train images (labels 0,1,2 repeated), 3 test images; pixel value = index."""
    src = tmp_path / "idx"
    train = np.stack([np.full((4, 5), i, dtype=np.uint8) for i in range(12)])
    write_idx(src, "train", train, np.array([i % 3 for i in range(12)], dtype=np.uint8))
    test = np.stack([np.full((4, 5), 100 + i, dtype=np.uint8) for i in range(3)])
    write_idx(src, "t10k", test, np.array([0, 1, 9], dtype=np.uint8))
    return src


def test_reads_images_and_labels(source: Path) -> None:
    images, labels = fm.load_split("train", source)
    assert images.shape == (12, 4, 5) and images.dtype == np.uint8
    assert images[7].tolist() == [[7] * 5] * 4
    assert labels.tolist() == [0, 1, 2] * 4


def test_writes_class_folders_with_exact_pixels_and_skips_identical_files(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "tree"
    assert fm.write_image_folder(out, split="train", source_dir=source) == 12
    assert sorted(p.name for p in out.iterdir()) == sorted(fm.CLASSES)
    assert sorted(p.name for p in (out / "Trouser").iterdir()) == ["train_00001.png", "train_00004.png", "train_00007.png", "train_00010.png"]
    with Image.open(out / "Trouser" / "train_00007.png") as im:
        assert im.mode == "L" and im.size == (5, 4)
        assert np.asarray(im).tolist() == [[7] * 5] * 4
    assert fm.write_image_folder(out, split="train", source_dir=source) == 0
    (out / "Trouser" / "train_00007.png").write_bytes(b"damaged")
    assert fm.write_image_folder(out, split="train", source_dir=source) == 1


def test_both_splits_keep_the_official_split_for_a_scan(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "both"
    assert fm.write_image_folder(out, split="both", source_dir=source) == 15
    r = scan_folder(out, progress=False)
    assert r.counts == {"Ankle_boot": 1, "Pullover": 4, "T-shirt_top": 5, "Trouser": 5}
    assert Counter(r.preset_split.values()) == {"train": 12, "test": 3}
    assert r.preset_split["test/Ankle_boot/test_00002.png"] == "test"
    assert sorted(r.empty_classes) == sorted(set(fm.CLASSES) - {"Ankle_boot", "Pullover", "T-shirt_top", "Trouser"})


def test_per_class_and_classes_pick_the_same_images_for_the_same_seed(source: Path, tmp_path: Path) -> None:
    def pick(folder: str, seed: int) -> list[str]:
        fm.write_image_folder(tmp_path / folder, per_class=2, classes=["Trouser", "T-shirt_top"], seed=seed, source_dir=source)
        return sorted(str(p.relative_to(tmp_path / folder)) for p in (tmp_path / folder).rglob("*.png"))

    first = pick("a", 0)
    assert len(first) == 4 and {Path(p).parent.name for p in first} == {"T-shirt_top", "Trouser"}
    assert pick("b", 0) == first
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["T-shirt_top", "Trouser"]


def test_rewriting_with_other_arguments_leaves_exactly_the_requested_images(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "tree"
    fm.write_image_folder(out, source_dir=source)
    (out / "Trouser" / "notes.txt").write_text("mine")
    assert fm.write_image_folder(out, per_class=1, classes=["Trouser", "Pullover"], source_dir=source) == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "Pullover/train_00008.png", "Trouser/notes.txt", "Trouser/train_00010.png"
    ]


def test_bad_arguments_and_files_are_clear(source: Path, tmp_path: Path) -> None:
    with pytest.raises(ClassifykitError, match=r"Unknown Fashion-MNIST class 'Boot'; choose from T-shirt_top, Trouser"):
        fm.write_image_folder(tmp_path / "x", classes=["Boot"], source_dir=source)
    with pytest.raises(ClassifykitError, match=r"split 'val': use 'train', 'test' or 'both'"):
        fm.write_image_folder(tmp_path / "x", split="val", source_dir=source)
    with pytest.raises(ClassifykitError, match=r"Fashion-MNIST file not found\. Install it with `apt-get install -y dataset-fashion-mnist`"):
        fm.load_split("train", tmp_path / "nowhere")
    with gzip.open(tmp_path / "bad-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 2051, 1) + b"\0")
    with pytest.raises(ClassifykitError, match=r"not an IDX file with magic number 2049"):
        fm.read_labels(tmp_path / "bad-labels-idx1-ubyte.gz")


@pytest.mark.integration
def test_real_fashion_mnist_files(tmp_path: Path) -> None:
    images, labels = fm.load_split("train")
    assert images.shape == (60000, 28, 28) and labels.shape == (60000,)
    assert np.bincount(labels).tolist() == [6000] * 10
    assert labels[:3].tolist() == [9, 0, 0]  # the first training images: Ankle boot, T-shirt/top, T-shirt/top
    test_images, test_labels = fm.load_split("test")
    assert test_images.shape == (10000, 28, 28) and np.bincount(test_labels).tolist() == [1000] * 10
    assert fm.write_image_folder(tmp_path / "fm", split="both", per_class=3) == 60
    r = scan_folder(tmp_path / "fm", progress=False)
    assert r.classes == sorted(fm.CLASSES) and set(r.counts.values()) == {6}
    assert Counter(r.preset_split.values()) == {"train": 30, "test": 30}
    assert {(it.width, it.height, it.mode) for it in r.items} == {(28, 28, "L")}
    with Image.open(tmp_path / "fm" / r.items[0].path) as im:
        index = int(Path(r.items[0].path).stem.split("_")[1])
        assert np.array_equal(np.asarray(im), test_images[index] if r.items[0].path.startswith("test/") else images[index])
