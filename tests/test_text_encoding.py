"""Read errors that say what a file is (issue 15): binary files (defect 9), the likely encoding of an
undecodable file instead of advice that garbles it (defect 6), and UTF-8 read as cp1252 (defect 6)."""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest
from PIL import Image

from classifykit.data.manifest import read_manifest
from classifykit.data.sniff import binary_kind, encoding_candidates, looks_like_mojibake
from classifykit.errors import ClassifykitError
from classifykit.text.corpus import load_corpus
from classifykit.text.inference import read_texts
from classifykit.text.read import read_records

GBK_TABLE = "text,label\n中文文本分类,正面\n这部电影很好看,正面\n剧情很无聊,负面\n".encode("gbk")


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, "PNG")
    return out.getvalue()


def test_binary_kinds_from_magic_bytes_and_nul_bytes():
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "JPEG")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.txt", "x")
    assert binary_kind(png_bytes()) == "a PNG image"
    assert binary_kind(out.getvalue()) == "a JPEG image"
    assert binary_kind(b"%PDF-1.7\n...") == "a PDF document"
    assert binary_kind(archive.getvalue()).startswith("a ZIP archive")
    assert binary_kind(gzip.compress(b"text,label\n")) == "a gzip-compressed file"
    assert binary_kind(b"text\x00\x01\x02label") == "binary data"
    for text in ("BMW is a car,pos\n", "GIF is a format\n", "hello"):  # text that starts like a short magic
        assert binary_kind(text.encode()) is None
    assert binary_kind("text,label\nhé,pos\n".encode("utf-16")) is None  # UTF-16 is text, NULs and all


def test_a_png_given_as_training_data_or_predict_input_is_named(tmp_path):
    # defect 9: the text run suggested --encoding latin-1, which then "classified" PNG bytes
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes())
    with pytest.raises(ClassifykitError, match=r"photo\.png is a PNG image, not a text file; give a CSV/TSV/JSONL"):
        load_corpus(photo)
    renamed = tmp_path / "photo.csv"
    renamed.write_bytes(png_bytes())
    with pytest.raises(ClassifykitError, match=r"photo\.csv is a PNG image, not a text file"):
        read_records(renamed)
    for encoding in ("utf-8", "latin-1"):  # latin-1 decodes any bytes: the check comes first
        with pytest.raises(ClassifykitError, match=r"photo\.png is a PNG image, not a text file"):
            read_texts(str(photo), encoding)


def test_a_txt_file_in_a_class_folder_that_is_a_pdf(tmp_path):
    (tmp_path / "pos").mkdir()
    (tmp_path / "neg").mkdir()
    (tmp_path / "pos" / "a.txt").write_text("good", encoding="utf-8")
    (tmp_path / "neg" / "b.txt").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    with pytest.raises(ClassifykitError, match=r"b\.txt is a PDF document, not a text file"):
        read_records(tmp_path)


def test_gbk_file_gets_gb18030_advice_not_latin1(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_bytes(GBK_TABLE)
    with pytest.raises(ClassifykitError) as err:
        read_records(path)
    message = str(err.value)
    assert "not valid utf-8 at byte 11 (line 2); pass the file's encoding with --encoding" in message
    assert "e.g. --encoding gb18030" in message and "中文文本分类" in message
    assert "latin-1" not in message and "cp1252" not in message
    assert read_records(path, encoding="gb18030").texts == ["中文文本分类", "这部电影很好看", "剧情很无聊"]


def test_the_short_gbk_string_lists_gb18030_first():
    found = encoding_candidates("中文文本分类".encode("gbk"))
    assert found[0] == ("gb18030", "中文文本分类")


def test_manifest_encoding_error_names_the_likely_encoding(tmp_path):
    path = tmp_path / "list.csv"
    path.write_bytes("path,label\nx.png,猫咪\ny.png,小狗\nz.png,金鱼\n".encode("gbk"))
    with pytest.raises(ClassifykitError, match=r"list\.csv: not valid utf-8 .*--encoding gb18030"):
        read_manifest(path)


def test_cp1252_file_suggests_cp1252_with_a_preview(tmp_path):
    path = tmp_path / "avis.csv"
    path.write_bytes("text,label\nun café crème brûlée très bon,pos\nennuyeux et déçu,neg\n".encode("cp1252"))
    with pytest.raises(ClassifykitError, match=r"cp1252 \('.*café crème") as err:
        read_records(path)
    assert "e.g. --encoding cp1252" in str(err.value)


def test_utf8_file_read_as_cp1252_is_refused_not_garbled(tmp_path):
    # defect 6: predict with a run trained on cp1252 read a UTF-8 file as "cafÃ©"
    path = tmp_path / "new.txt"
    path.write_text("un café très bon\nplain ascii line\n", encoding="utf-8")
    with pytest.raises(ClassifykitError, match=r"new\.txt: the file is UTF-8 but is being read as cp1252, which would "
                                               r"turn 'café' into 'cafÃ©'; pass --encoding utf-8"):
        read_texts(str(path), "cp1252")
    assert read_texts(str(path), "utf-8")[0][0] == (f"{path}:1", "un café très bon")
    table = tmp_path / "new.csv"
    table.write_text("text,label\nun café,pos\n", encoding="utf-8")
    with pytest.raises(ClassifykitError, match="pass --encoding utf-8"):
        read_texts(str(table), "latin-1")
    ascii_only = tmp_path / "ascii.txt"
    ascii_only.write_text("plain\n", encoding="utf-8")
    assert read_texts(str(ascii_only), "cp1252")[0] == [(f"{ascii_only}:1", "plain")]  # nothing to garble


def test_real_cp1252_bytes_read_as_cp1252(tmp_path):
    path = tmp_path / "old.txt"
    path.write_bytes("un café très bon – “quoted”\n".encode("cp1252"))
    assert read_texts(str(path), "cp1252")[0] == [(f"{path}:1", "un café très bon – “quoted”")]


def test_looks_like_mojibake():
    assert looks_like_mojibake("un cafÃ© trÃ¨s bon")
    assert looks_like_mojibake("I donâ€™t like it")  # ’ (e2 80 99) read as cp1252
    assert not looks_like_mojibake("un café très bon")
    assert not looks_like_mojibake("中文文本分类") and not looks_like_mojibake("plain")
