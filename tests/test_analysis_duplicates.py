"""Near-duplicates across train and test: perceptual hashes for images, normalised text for texts."""

import csv
import shutil

import numpy as np
import pytest
from PIL import Image

from classifykit.analysis.duplicates import (
    hash_matches,
    image_hashes,
    image_near_duplicates,
    normalise_text,
    text_near_duplicates,
)
from classifykit.data.fashion_mnist import load_split, png_bytes
from classifykit.text.rotten_tomatoes import prepare_rotten_tomatoes


def test_hash_matches_counts_bits_across_words():
    test = np.array([[0, 0], [0b111, 0], [2**63, 1]], dtype=np.uint64)
    train = np.array([[0, 0], [0b1, 2**64 - 1]], dtype=np.uint64)
    # distances: test0-train0 0, test1-train0 3, test2-train0 2, test0-train1 65, ...
    assert hash_matches(test, train, max_distance=3) == [(0, 0, 0), (1, 0, 3), (2, 0, 2)]
    assert hash_matches(test, train, max_distance=0) == [(0, 0, 0)]
    assert hash_matches(test[:0], train) == []


def test_image_hashes_see_through_mode_and_scale(tmp_path):
    rng = np.random.default_rng(0)
    base = (rng.random((8, 8)) * 255).astype(np.uint8).repeat(8, 0).repeat(8, 1)  # 64×64 blocks
    Image.fromarray(base, "L").save(tmp_path / "a.png")
    Image.fromarray(base, "L").convert("RGB").resize((128, 128)).save(tmp_path / "a_big_rgb.png")
    Image.fromarray(255 - base, "L").save(tmp_path / "inverted.png")
    h = image_hashes([tmp_path / "a.png", tmp_path / "a_big_rgb.png", tmp_path / "inverted.png"])
    assert h.shape == (3, 4) and h.dtype == np.uint64
    matches = hash_matches(h[1:], h[:1])
    assert [(i, j) for i, j, _ in matches] == [(0, 0)]  # the enlarged colour copy, not the negative


@pytest.mark.integration
def test_fifty_fashion_mnist_copies_are_all_found(tmp_path):
    images, _ = load_split("train")
    train_dir, test_dir = tmp_path / "train", tmp_path / "test"
    train_dir.mkdir()
    test_dir.mkdir()
    train_paths, test_paths = [], []
    for i in range(400):
        train_paths.append(train_dir / f"{i}.png")
        train_paths[-1].write_bytes(png_bytes(images[i]))
    for i in range(400, 600):
        test_paths.append(test_dir / f"{i}.png")
        test_paths[-1].write_bytes(png_bytes(images[i]))
    copied = {}
    for k, src in enumerate(test_paths[::4]):  # 50 test images copied into train, every fifth re-saved as RGB JPEG
        if k % 5:
            dst = train_dir / f"copy_{k}.png"
            shutil.copy(src, dst)
        else:
            dst = train_dir / f"copy_{k}.jpg"
            Image.open(src).convert("RGB").save(dst, quality=90)
        copied[str(src)] = str(dst)
        train_paths.append(dst)
    seen = []
    pairs = image_near_duplicates(train_paths, test_paths, progress=lambda d, t: seen.append((d, t)))
    assert len(copied) == 50
    assert {(t, tr) for t, tr, _ in pairs} == set(copied.items())  # every copy, and nothing distinct
    assert all(d == 0 for t, tr, d in pairs if tr.endswith(".png")) and max(d for *_, d in pairs) > 0
    assert seen[-1] == (650, 650)


@pytest.mark.integration
def test_fifty_rotten_tomatoes_copies_are_all_found(tmp_path):
    with open(prepare_rotten_tomatoes(tmp_path), encoding="utf-8", newline="") as f:
        texts = [r["text"] for r in csv.DictReader(f)]
    train, test = texts[:2000], texts[2000:2500]
    # each copy altered as a re-typed duplicate would be: case, spacing, punctuation, compatibility forms
    variants = [str.upper, lambda s: "  " + s.replace(" ", "\t ") + " ", lambda s: s.replace(",", "").rstrip(".") + "!!",
                lambda s: s.replace("fi", "\ufb01")]
    planted = {}
    for k, i in enumerate(range(0, 500, 10)):
        planted[i] = len(train)
        train = train + [variants[k % len(variants)](test[i])]
    pairs = text_near_duplicates(train, test)
    assert len(planted) == 50
    assert pairs == sorted(planted.items())


def test_normalise_text_and_no_empty_matches():
    assert normalise_text("  Great\u00a0FILM!!  \n") == "great film"
    assert normalise_text("\ufb01ne, “quoted”") == "fine quoted"
    assert text_near_duplicates(["!!!", "", "a b"], ["...", "", "A  b."]) == [(2, 2)]
    assert text_near_duplicates(["one", "one"], ["One"]) == [(0, 0), (0, 1)]
    assert text_near_duplicates(["one"], ["two"]) == []
