"""scan_folder / verify_items / the scan command, on small generated trees with every bad-input kind."""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from classifykit.cli.app import app
from classifykit.data.manifest import ManifestItem, read_manifest
from classifykit.data.scan import CACHE_NAME, PIL_FORMATS, check_image, scan_folder, verify_items
from classifykit.errors import ClassifykitError
from classifykit.io import read_csv_rows


def save(path: Path, image: Image.Image, fmt: str | None = None, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt, **kw)
    return path


def rgb(w: int = 16, h: int = 12, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def jpeg_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG")
    return buf.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width×height`` pixels (a decompression bomb, cheaply)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """A folder with good images, hidden/system entries, junk, fakes, truncated and empty files."""
    root = tmp_path / "data"
    save(root / "cats" / "a.png", rgb())
    save(root / "cats" / "b.JPG", rgb(seed=1), "JPEG")
    save(root / "cats" / "deep" / "c.webp", rgb(seed=2), "WEBP")
    save(root / "cats" / ".hidden.png", rgb())
    write(root / "cats" / "._a.png", b"\x00\x05\x16\x07AppleDouble")
    write(root / "cats" / "Thumbs.db", b"junk")
    write(root / "cats" / "desktop.ini", b"[.ShellClassInfo]")
    write(root / "cats" / "README.txt", b"my cats")
    write(root / "cats" / "noext", b"?")
    save(root / "dogs" / "png_named.jpg", rgb(seed=3), "PNG")
    write(root / "dogs" / "page.jpg", b"<!DOCTYPE html><html>Not found</html>")
    full = jpeg_bytes(rgb(64, 64, seed=4))
    write(root / "dogs" / "half.jpg", full[: len(full) // 2])
    write(root / "dogs" / "empty.png", b"")
    save(root / ".git" / "x.png", rgb())
    save(root / "__MACOSX" / "cats" / "._a.png", rgb())
    write(root / "notes.txt", b"notes")
    write(root / ".DS_Store", b"\0")
    write(root / "birds" / ".keep", b"")
    return root


def test_scan_uses_good_images_skips_bad_with_reasons_and_ignores_system_entries(messy: Path) -> None:
    r = scan_folder(messy, progress=False)
    assert [(it.path, it.label, it.width, it.height, it.mode) for it in r.items] == [
        ("cats/a.png", "cats", 16, 12, "RGB"),
        ("cats/b.JPG", "cats", 16, 12, "RGB"),
        ("cats/deep/c.webp", "cats", 16, 12, "RGB"),
        ("dogs/png_named.jpg", "dogs", 16, 12, "RGB"),
    ]
    assert r.classes == ["cats", "dogs"]
    assert r.counts == {"cats": 3, "dogs": 1}
    assert r.empty_classes == ["birds"]
    assert r.preset_split is None
    reasons = dict(r.skipped)
    assert list(reasons) == [
        "cats/README.txt", "cats/noext", "dogs/empty.png", "dogs/half.jpg", "dogs/page.jpg", "notes.txt"
    ]
    assert reasons["cats/README.txt"] == "not an image extension: .txt"
    assert reasons["cats/noext"] == "not an image extension: no extension"
    assert reasons["dogs/empty.png"] == "empty file: 0 bytes"
    assert reasons["dogs/half.jpg"].startswith("truncated or corrupt: OSError: image file is truncated (")
    assert reasons["dogs/page.jpg"] == (
        f"not an image: content is none of {', '.join(PIL_FORMATS)} (starts with b'<!DOCTYPE html><')"
    )
    assert reasons["notes.txt"] == "not in a class folder: put it in root/<class>/"


def test_every_image_mode_is_decoded_and_recorded(tmp_path: Path) -> None:
    root = tmp_path / "d"
    i16 = Image.fromarray(np.full((5, 7), 40000, dtype=np.uint16))
    p_transparent = Image.new("P", (7, 5))
    cases = {
        "m1.png": (Image.new("1", (7, 5)), "PNG", {}),
        "mL.bmp": (Image.new("L", (7, 5)), "BMP", {}),
        "mLA.png": (Image.new("LA", (7, 5)), "PNG", {}),
        "mP.gif": (Image.new("P", (7, 5)), "GIF", {}),
        "mPt.png": (p_transparent, "PNG", {"transparency": 0}),
        "mRGB.ppm": (Image.new("RGB", (7, 5)), "PPM", {}),
        "mL.pgm": (Image.new("L", (7, 5)), "PPM", {}),
        "mRGBA.png": (Image.new("RGBA", (7, 5)), "PNG", {}),
        "mCMYK.jpg": (Image.new("CMYK", (7, 5)), "JPEG", {}),
        "mI16.png": (i16, "PNG", {}),
        "mF.tif": (Image.new("F", (7, 5)), "TIFF", {}),
        "mI.tiff": (Image.new("I", (7, 5)), "TIFF", {}),
    }
    for name, (im, fmt, kw) in cases.items():
        save(root / "c" / name, im, fmt, **kw)
    r = scan_folder(root, progress=False)
    assert r.skipped == []
    assert {Path(it.path).name: it.mode for it in r.items} == {
        "m1.png": "1", "mL.bmp": "L", "mLA.png": "LA", "mP.gif": "P", "mPt.png": "P", "mRGB.ppm": "RGB",
        "mL.pgm": "L", "mRGBA.png": "RGBA", "mCMYK.jpg": "CMYK", "mI16.png": "I;16", "mF.tif": "F", "mI.tiff": "I",
    }
    assert {(it.width, it.height) for it in r.items} == {(7, 5)}


def test_large_jpeg_reports_full_size_and_truncation_is_still_found(tmp_path: Path) -> None:
    data = jpeg_bytes(rgb(800, 600))
    assert check_image(write(tmp_path / "full.jpg", data)) == (800, 600, "RGB")
    cmyk = save(tmp_path / "cmyk.jpg", Image.new("CMYK", (80, 64), (0, 50, 100, 0)), "JPEG")
    assert check_image(cmyk) == (80, 64, "CMYK")
    for cut in (len(data) // 2, len(data) - 40):
        reason = check_image(write(tmp_path / f"cut{cut}.jpg", data[:cut]))
        assert reason.startswith("truncated or corrupt: OSError: image file is truncated ("), reason


def test_exif_orientation_swaps_reported_size(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = save(tmp_path / "c" / "rotated.jpg", rgb(20, 10), "JPEG", exif=exif)
    assert check_image(path) == (10, 20, "RGB")


def test_decompression_bomb_is_skipped_without_touching_the_global_limit(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "d"
    write(root / "c" / "bomb.png", png_claiming(100_000, 100_000))
    save(root / "c" / "ok.png", rgb(30, 30))
    save(root / "c" / "warned.png", rgb(40, 40))  # over the patched limit, under twice it: Pillow only warns
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = scan_folder(root, progress=False)
    assert Image.MAX_IMAGE_PIXELS == 1000
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    assert [it.path for it in r.items] == ["c/ok.png"]
    assert r.skipped == [
        # One limit, 1000, for both (Pillow's own error names twice it, 2000).
        ("c/bomb.png", "too large: 10000000000 pixels, over the limit of 1000 pixels (PIL.Image.MAX_IMAGE_PIXELS); resize it below that or remove it"),
        ("c/warned.png", "too large: 1600 pixels, over the limit of 1000 pixels (PIL.Image.MAX_IMAGE_PIXELS); resize it below that or remove it"),
    ]


def test_default_limit_rejects_a_header_claiming_ten_gigapixels(tmp_path: Path) -> None:
    reason = check_image(write(tmp_path / "bomb.png", png_claiming(100_000, 100_000)))
    assert reason.startswith("too large: 10000000000 pixels, over the limit of 89478485 pixels")
    assert "178956970" not in reason


def test_pillow_knows_every_accepted_format() -> None:
    Image.init()
    assert set(PIL_FORMATS) <= set(Image.OPEN)


def test_preset_split_folders_are_kept(tmp_path: Path) -> None:
    root = tmp_path / "d"
    for split in ("train", "Valid", "test"):
        for label in ("a", "b"):
            save(root / split / label / f"{split}.png", rgb())
    write(root / "train" / "stray.png", b"x")
    r = scan_folder(root, progress=False)
    assert r.classes == ["a", "b"]
    assert r.preset_split == {
        "Valid/a/Valid.png": "val", "Valid/b/Valid.png": "val", "test/a/test.png": "test",
        "test/b/test.png": "test", "train/a/train.png": "train", "train/b/train.png": "train",
    }
    assert r.skipped == [("train/stray.png", "not in a class folder: put it in train/<class>/")]


def test_split_names_beside_other_folders_are_plain_classes(tmp_path: Path) -> None:
    root = tmp_path / "d"
    save(root / "train" / "x.png", rgb())
    save(root / "cats" / "x.png", rgb())
    r = scan_folder(root, progress=False)
    assert r.classes == ["cats", "train"] and r.preset_split is None


def test_non_ascii_comma_and_quote_names_round_trip(tmp_path: Path) -> None:
    root = tmp_path / "d"
    save(root / 'Café, "noir"' / 'naïve, "x" 日本.png', rgb())
    r = scan_folder(root, progress=False)
    from classifykit.data.manifest import write_manifest

    write_manifest(tmp_path / "manifest.csv", r.items)
    back = read_manifest(tmp_path / "manifest.csv", root=root)
    assert back == r.items == [ManifestItem('Café, "noir"/naïve, "x" 日本.png', 'Café, "noir"', 16, 12, "RGB")]


def test_rescan_reuses_unchanged_files_and_redecodes_changed_ones(tmp_path: Path) -> None:
    root = tmp_path / "d"
    for i in range(5):
        save(root / "c" / f"{i}.png", rgb(seed=i))
    cache = tmp_path / CACHE_NAME
    first = scan_folder(root, progress=False, cache_path=cache)
    assert first.reused == 0 and len(first.items) == 5
    second = scan_folder(root, progress=False, cache_path=cache)
    assert second.reused == 5 and second.items == first.items
    write(root / "c" / "3.png", jpeg_bytes(rgb(64, 64))[:300])  # same name, now truncated
    third = scan_folder(root, progress=False, cache_path=cache)
    assert third.reused == 4
    assert [p for p, _ in third.skipped] == ["c/3.png"]
    other = tmp_path / "copy"
    os.rename(root, other)
    assert scan_folder(other, progress=False, cache_path=cache).reused == 0  # another root: cache ignored


def test_parallel_scan_matches_serial(tmp_path: Path) -> None:
    root = tmp_path / "d"
    for i in range(80):
        save(root / f"c{i % 3}" / f"{i}.png", rgb(8, 8, seed=i))
    write(root / "c0" / "bad.png", b"not a png at all")
    serial = scan_folder(root, progress=False, workers=1)
    parallel = scan_folder(root, progress=False, workers=2)
    assert parallel.items == serial.items and parallel.skipped == serial.skipped
    assert parallel.counts == {"c0": 27, "c1": 27, "c2": 26}


def test_plain_progress_lines(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("CLASSIFYKIT_PROGRESS", "plain")
    for i in range(3):
        save(tmp_path / "d" / "c" / f"{i}.png", rgb())
    scan_folder(tmp_path / "d", progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1].startswith("scan: 3/3 files decoded (")
    scan_folder(tmp_path / "d", progress=False)
    assert capsys.readouterr().err == ""


def test_folder_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ClassifykitError, match=r"nowhere: no such folder\. Give a folder with one subfolder per class"):
        scan_folder(tmp_path / "nowhere", progress=False)
    save(tmp_path / "flat" / "a.png", rgb())
    with pytest.raises(ClassifykitError, match=r"flat: no class subfolders found\. Put each class's images in its own folder"):
        scan_folder(tmp_path / "flat", progress=False)


def test_verify_items_checks_manifest_files(tmp_path: Path) -> None:
    save(tmp_path / "imgs" / "a.png", rgb())
    write(tmp_path / "imgs" / "b.png", jpeg_bytes(rgb(64, 64))[:300])
    absolute = save(tmp_path / "elsewhere" / "c.gif", rgb(), "GIF")
    items = [ManifestItem("imgs/a.png", "x"), ManifestItem("imgs/b.png", "y"), ManifestItem("imgs/gone.png", "y"),
             ManifestItem(absolute.as_posix(), "z")]
    r = verify_items(tmp_path, items, progress=False)
    assert [(it.path, it.label, it.mode) for it in r.items] == [(absolute.as_posix(), "z", "P"), ("imgs/a.png", "x", "RGB")]
    assert r.classes == ["x", "z"] and r.empty_classes == ["y"]
    assert [p for p, _ in r.skipped] == ["imgs/b.png", "imgs/gone.png"]
    assert dict(r.skipped)["imgs/gone.png"] == "missing: no such file"
    with pytest.raises(ClassifykitError, match=r"None of the 2 files listed exists under .*'a.png'\); pass the folder the paths start from with --root"):
        verify_items(tmp_path / "imgs" / "nope", [ManifestItem("a.png", "x"), ManifestItem("b.png", "x")], progress=False)


def test_scan_command_writes_manifest_and_skipped_and_prints_report(messy: Path, tmp_path: Path) -> None:
    out = tmp_path / "run" / "manifest.csv"
    res = CliRunner().invoke(app, ["scan", str(messy), "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert [r["path"] for r in read_csv_rows(out)] == ["cats/a.png", "cats/b.JPG", "cats/deep/c.webp", "dogs/png_named.jpg"]
    assert [r["file"] for r in read_csv_rows(out.parent / "skipped.csv")][:2] == ["cats/README.txt", "cats/noext"]
    assert (out.parent / CACHE_NAME).is_file()
    text = " ".join(res.output.split())
    assert "│ cats │ 3 │" in text and "│ birds │ 0 │" in text and "Empty classes (no usable image; left out): birds" in text
    assert (
        "4 images in 2 classes, 6 skipped (2 not an image extension, 1 empty file, 1 truncated or corrupt, "
        "1 not an image, 1 not in a class folder)."
    ) in text


def test_scan_command_on_a_user_manifest(tmp_path: Path) -> None:
    save(tmp_path / "pics" / "a.png", rgb())
    save(tmp_path / "pics" / "b.png", rgb(seed=1))
    (tmp_path / "list.csv").write_bytes("\ufeffFile,Kind\r\n".encode() + b'pics/a.png,"cat, big"\r\npics/b.png,dog\r\npics/c.png,dog\r\n')
    out = tmp_path / "run" / "manifest.csv"
    res = CliRunner().invoke(app, ["scan", str(tmp_path / "list.csv"), "--out", str(out), "--label-column", "Kind", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert read_csv_rows(out) == [
        {"path": "pics/a.png", "label": "cat, big", "width": "16", "height": "12", "mode": "RGB"},
        {"path": "pics/b.png", "label": "dog", "width": "16", "height": "12", "mode": "RGB"},
    ]
    assert read_csv_rows(out.parent / "skipped.csv") == [{"file": "pics/c.png", "reason": "missing: no such file"}]
    res = CliRunner().invoke(app, ["scan", str(tmp_path / "list.csv"), "--out", str(tmp_path / "list.csv")])
    assert isinstance(res.exception, ClassifykitError) and "is the manifest being read" in str(res.exception)


def test_scan_command_refuses_manifest_options_for_a_folder(messy: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["scan", str(messy), "--out", str(tmp_path / "m.csv"), "--label-column", "kind"])
    assert isinstance(res.exception, ClassifykitError)
    assert str(res.exception) == f"--label-column applies to a manifest file; {messy} is a folder (its class folders give the labels)."
    res = CliRunner().invoke(app, ["scan", str(tmp_path / "nothing"), "--out", str(tmp_path / "m.csv")])
    assert isinstance(res.exception, ClassifykitError) and "nothing: no such folder or file" in str(res.exception)


def test_scan_command_fails_clearly_when_nothing_is_usable(tmp_path: Path) -> None:
    write(tmp_path / "d" / "c" / "x.png", b"")
    res = CliRunner().invoke(app, ["scan", str(tmp_path / "d"), "--out", str(tmp_path / "m.csv"), "--no-progress"])
    assert isinstance(res.exception, ClassifykitError)
    assert "no usable images; every file was skipped" in str(res.exception)
    assert read_csv_rows(tmp_path / "skipped.csv") == [{"file": "c/x.png", "reason": "empty file: 0 bytes"}]


def test_unreadable_folder_is_skipped_with_its_reason(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "d"
    save(root / "cats" / "a.png", rgb())
    save(root / "cats" / "locked" / "b.png", rgb())
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    r = scan_folder(root, progress=False)
    assert [it.path for it in r.items] == ["cats/a.png"]
    assert r.skipped == [("cats/locked/", "unreadable folder: Permission denied")]
    monkeypatch.setattr(os, "scandir", lambda path: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    with pytest.raises(ClassifykitError, match=r"d: cannot read the folder \(Permission denied\); check its permissions\."):
        scan_folder(root, progress=False)


def test_train_and_test_without_val_beside_an_unlabelled_predict_folder(tmp_path: Path) -> None:
    # Issue 15 defect 2: this was read as the three classes predict, test, train.
    root = tmp_path / "d"
    for split in ("train", "test"):
        for label in ("cat", "dog"):
            save(root / split / label / "1.png", rgb())
    save(root / "predict" / "p1.png", rgb())
    save(root / "predict" / "more" / "p2.png", rgb())
    save(root / "test" / "loose.png", rgb())
    r = scan_folder(root, progress=False)
    assert r.classes == ["cat", "dog"]
    assert sorted(set(r.preset_split.values())) == ["test", "train"]
    assert r.preset_split["train/cat/1.png"] == "train" and r.preset_split["test/dog/1.png"] == "test"
    assert dict(r.skipped) == {
        "predict/": "unlabelled folder: not a split folder (train, val, test); its 2 files left out",
        "test/loose.png": "not in a class folder: put it in test/<class>/",
    }
    assert r.unlabelled == {"predict": 2} and r.nested == {}
    assert "left out 1 unlabelled folder beside the split folders (not train, val or test): predict/ (2 files)" in r.notes()


@pytest.mark.parametrize("splits", [("train",), ("train", "validation"), ("Test",), ("valid", "test"), ("TRAIN", "Val", "test")])
def test_every_subset_of_split_folders_is_a_split_layout(tmp_path: Path, splits) -> None:
    root = tmp_path / "d"
    for split in splits:
        save(root / split / "a" / "x.png", rgb())
        save(root / split / "b" / "x.png", rgb())
    save(root / "unlabeled" / "u.png", rgb())
    r = scan_folder(root, progress=False)
    names = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
    assert r.classes == ["a", "b"]
    assert sorted(set(r.preset_split.values())) == sorted({names[s.lower()] for s in splits})
    assert [f for f, _ in r.skipped] == ["unlabeled/"]


def test_is_split_layout_names_only():
    from classifykit.data.scan import is_split_layout

    assert is_split_layout(["train", "test"]) and is_split_layout(["Validation"]) and is_split_layout(["test"])
    assert not is_split_layout([]) and not is_split_layout(["train", "predict"]) and not is_split_layout(["cats"])


def test_images_below_a_class_folder_count_as_that_class_and_are_said(tmp_path: Path) -> None:
    root = tmp_path / "d"
    save(root / "cat" / "1.png", rgb())
    save(root / "cat" / "sub" / "2.png", rgb())
    save(root / "cat" / "sub" / "deeper" / "3.png", rgb())
    save(root / "dog" / "1.png", rgb())
    r = scan_folder(root, progress=False)
    assert r.counts == {"cat": 3, "dog": 1} and r.nested == {"cat": 2}
    assert r.notes() == ["2 images in subfolders of a class folder counted as that class: cat 2"]
    split = tmp_path / "s"
    save(split / "train" / "cat" / "sub" / "1.png", rgb())
    save(split / "train" / "dog" / "1.png", rgb())
    assert scan_folder(split, progress=False).nested == {"cat": 1}


def test_a_split_folder_inside_a_class_folder_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "d"
    save(root / "imdb" / "train" / "pos" / "1.png", rgb())
    save(root / "imdb" / "test" / "pos" / "2.png", rgb())
    with pytest.raises(ClassifykitError, match=r"imdb/test/: a 'test' split folder inside the class folder 'imdb'.*scan that folder"):
        scan_folder(root, progress=False)


def test_a_class_named_test_holding_images_stays_a_class(tmp_path: Path) -> None:
    root = tmp_path / "d"
    save(root / "test" / "1.png", rgb())
    save(root / "prod" / "1.png", rgb())
    r = scan_folder(root, progress=False)
    assert r.classes == ["prod", "test"] and r.preset_split is None and r.skipped == []


def test_hidden_and_system_folders_are_counted_and_said_in_one_line(tmp_path: Path) -> None:
    # Issue 15 defect 14: these were left out without a word.
    root = tmp_path / "d"
    save(root / "cat" / "1.png", rgb())
    save(root / "dog" / "1.png", rgb())
    for label, n in (("cat", 2), ("dog", 1)):
        for i in range(n):
            write(root / label / ".ipynb_checkpoints" / f"{i}-checkpoint.png", b"x")
    for i in range(5):
        write(root / "__MACOSX" / "cat" / f"._{i}.png", b"\0")
    write(root / ".DS_Store", b"\0")
    write(root / "cat" / "._1.png", b"\0")
    r = scan_folder(root, progress=False)
    assert r.hidden_folders == {".ipynb_checkpoints": (2, 3), "__MACOSX": (1, 5)}
    assert r.hidden_files == {".DS_Store": 1, "._*": 1}
    assert r.left_out_line() == ("left out 3 hidden/system folders: .ipynb_checkpoints ×2 (3 files), __MACOSX (5 files); "
                                 "2 hidden/system files: .DS_Store, ._*")
    clean = tmp_path / "clean"
    save(clean / "cat" / "1.png", rgb())
    assert scan_folder(clean, progress=False).left_out_line() is None


def test_scan_command_says_what_was_left_out(tmp_path: Path) -> None:
    root = tmp_path / "d"
    save(root / "train" / "cat" / "1.png", rgb())
    save(root / "test" / "cat" / "1.png", rgb())
    save(root / "predict" / "1.png", rgb())
    write(root / "train" / "cat" / ".ipynb_checkpoints" / "a.png", b"x")
    res = CliRunner().invoke(app, ["scan", str(root), "--out", str(tmp_path / "m" / "manifest.csv"), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "left out 1 hidden/system folder: .ipynb_checkpoints (1 file)" in res.output
    assert "left out 1 unlabelled folder beside the split folders" in res.output
    rows = read_csv_rows(tmp_path / "m" / "skipped.csv")
    assert [r["file"] for r in rows] == ["predict/"]
