"""report.gallery: which mistakes are shown, where their images are, and the thumbnails."""

import base64
import io

import numpy as np
from PIL import Image

from classifykit.report.gallery import confidently_wrong, data_root, thumbnail_data_uri, wrong_items


def _decode(uri: str) -> Image.Image:
    assert uri.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_confidently_wrong_order_and_flags():
    rows = [{"item": "a", "label": "x", "pred": "y", "prob": "0.6", "correct": "0"},
            {"item": "b", "label": "x", "pred": "x", "prob": "0.99", "correct": "1"},
            {"item": "c", "label": "x", "pred": "y", "prob": "0.9", "correct": "False"},
            {"item": "d", "label": "x", "pred": "y", "prob": "", "correct": ""},  # no flag: label != pred
            {"item": "e", "label": "y", "pred": "x", "prob": "0.7", "correct": "0"}]
    assert [r["item"] for r in confidently_wrong(rows, 10)] == ["c", "e", "a", "d"]
    assert [r["item"] for r in confidently_wrong(rows, 2)] == ["c", "e"]


def test_data_root_follows_the_image_task(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    manifest = tmp_path / "lists" / "train.csv"
    manifest.parent.mkdir()
    manifest.write_text("path,label\n")
    assert data_root({"data": str(folder)}) == folder
    assert data_root({"data": str(manifest)}) == manifest.parent.resolve()
    assert data_root({"data": str(manifest), "root": str(folder)}) == folder
    assert data_root({}) is None


def test_small_images_are_enlarged_sharply(tmp_path):
    pixels = np.array([[0, 255], [255, 0]], dtype=np.uint8)
    Image.fromarray(pixels, "L").save(tmp_path / "x.png")
    thumb = _decode(thumbnail_data_uri(tmp_path / "x.png"))
    assert thumb.size == (112, 112) and thumb.mode == "L"
    arr = np.asarray(thumb)
    assert arr[0, 0] == 0 and arr[0, 111] == 255 and set(np.unique(arr).tolist()) == {0, 255}


def test_large_images_are_shrunk_keeping_aspect(tmp_path):
    Image.new("RGBA", (600, 300), (10, 200, 30, 255)).save(tmp_path / "wide.png")
    thumb = _decode(thumbnail_data_uri(tmp_path / "wide.png"))
    assert thumb.size == (112, 56) and thumb.mode == "RGB"
    assert thumb.getpixel((50, 20)) == (10, 200, 30)


def test_unreadable_image_and_unknown_row_become_problems(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    row = {"item": "bad.png", "label": "a", "pred": "b", "prob": "0.8", "correct": "0"}
    (item,) = wrong_items([row], "image", root=tmp_path)
    assert item.image is None and item.problem.startswith(f"cannot open {tmp_path / 'bad.png'}")
    (item,) = wrong_items([{**row, "item": "7"}], "text", texts={"6": "hello"})
    assert item.text is None and item.problem == "row 7 is not in manifest.csv"


def test_sixteen_bit_image_is_scaled_like_training_not_saturated(tmp_path):
    # Mid-grey in 16 bits (32768 of 65535): the old second decoder clipped it to white (mean 0.98).
    Image.fromarray(np.full((20, 30), 32768, dtype=np.uint16)).save(tmp_path / "mid16.png")
    assert Image.open(tmp_path / "mid16.png").mode.startswith("I")
    thumb = np.asarray(_decode(thumbnail_data_uri(tmp_path / "mid16.png")), dtype=np.float64)
    assert abs(thumb.mean() / 255 - 0.50) < 0.01
    ramp = (np.arange(64, dtype=np.uint32) * 1028).astype(np.uint16).reshape(8, 8)  # 0 .. 64764
    Image.fromarray(ramp).save(tmp_path / "ramp16.png")
    got = np.asarray(_decode(thumbnail_data_uri(tmp_path / "ramp16.png", size=8)))
    assert np.array_equal(got, np.rint(ramp / 257).astype(np.uint8))
