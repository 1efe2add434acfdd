"""write_manifest / read_manifest: our own manifest.csv and users' CSV/TSV manifests."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifykit.data.manifest import ManifestItem, manifest_root, read_manifest, resolve, write_manifest
from classifykit.errors import ClassifykitError


def test_round_trip_keeps_awkward_names_exactly(tmp_path: Path) -> None:
    items = [
        ManifestItem('Ünïcødé/日本語, "quoted".png', "Café, \"noir\"", 3, 4, "RGB"),
        ManifestItem(" a/line\nbreak.png ", " spaced label ", 1, 2, "I;16"),
        ManifestItem("b/plain.png", "x"),
    ]
    write_manifest(tmp_path / "manifest.csv", items)
    assert (tmp_path / "manifest.csv").read_bytes().startswith(b"path,label,width,height,mode\n")
    assert read_manifest(tmp_path / "manifest.csv") == items


def test_user_csv_with_bom_crlf_quotes_and_own_column_names(tmp_path: Path) -> None:
    text = '\ufeffId,Filename,Class\r\n1,"imgs/a, b.jpg","big ""cat"""\r\n2,imgs\\sub\\c.png,dog\r\n\r\n'
    (tmp_path / "mine.csv").write_bytes(text.encode("utf-8"))
    assert read_manifest(tmp_path / "mine.csv") == [
        ManifestItem("imgs/a, b.jpg", 'big "cat"'),
        ManifestItem("imgs/sub/c.png", "dog"),  # Windows separators become POSIX
    ]


def test_tsv_and_explicit_columns(tmp_path: Path) -> None:
    (tmp_path / "list.tsv").write_text("picture\tkind\tnote\nx.png\tcat\tok\n", encoding="utf-8")
    assert read_manifest(tmp_path / "list.tsv", path_column="picture", label_column="kind") == [ManifestItem("x.png", "cat")]
    with pytest.raises(ClassifykitError, match=r"list\.tsv: no column 'pic' \(columns: 'picture', 'kind', 'note'\); pass the right name with --path-column"):
        read_manifest(tmp_path / "list.tsv", path_column="pic", label_column="kind")


def test_wrong_encoding_suggests_encoding_option_and_the_right_one_works(tmp_path: Path) -> None:
    (tmp_path / "latin.csv").write_bytes("path,label\nx.png,café\n".encode("latin-1"))
    with pytest.raises(ClassifykitError, match=r"latin\.csv: not valid utf-8 at byte 20 \(line 2\); pass the file's encoding with --encoding"):
        read_manifest(tmp_path / "latin.csv")
    assert read_manifest(tmp_path / "latin.csv", encoding="latin-1") == [ManifestItem("x.png", "café")]


def test_missing_or_ambiguous_columns_name_the_file_and_the_option(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("picture,label\nx.png,cat\n", encoding="utf-8")
    with pytest.raises(ClassifykitError, match=r"a\.csv: no image path column found among 'picture', 'label' .*; name it with --path-column\."):
        read_manifest(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("path,class,label\nx.png,cat,dog\n", encoding="utf-8")
    with pytest.raises(ClassifykitError, match=r"b\.csv: several columns could hold the label \('class', 'label'\); choose one with --label-column\."):
        read_manifest(tmp_path / "b.csv")


def test_bad_rows_name_the_line(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("path,label\nx.png,cat\ny.png,\n", encoding="utf-8")
    with pytest.raises(ClassifykitError, match=r"e\.csv, line 3: empty 'label' for 'y\.png'; give its class or remove the row\."):
        read_manifest(tmp_path / "e.csv")
    (tmp_path / "d.csv").write_text("path,label\nx.png,cat\ny.png,dog\nx.png,cat\n", encoding="utf-8")
    with pytest.raises(ClassifykitError, match=r"d\.csv, line 4: 'x\.png' is already listed on line 2"):
        read_manifest(tmp_path / "d.csv")
    (tmp_path / "w.csv").write_text("path,label,width\nx.png,cat,wide\n", encoding="utf-8")
    with pytest.raises(ClassifykitError, match=r"w\.csv, line 2: width 'wide' is not a whole number\."):
        read_manifest(tmp_path / "w.csv")
    with pytest.raises(ClassifykitError, match=r"nothing\.csv: no such file\."):
        read_manifest(tmp_path / "nothing.csv")


def test_paths_resolve_against_the_manifest_folder_or_root(tmp_path: Path) -> None:
    manifest = tmp_path / "sub" / "m.csv"
    assert manifest_root(manifest) == (tmp_path / "sub").resolve()
    assert manifest_root(manifest, tmp_path / "data") == tmp_path / "data"
    assert resolve(tmp_path / "data", "a/b.png") == tmp_path / "data" / "a" / "b.png"
    assert resolve(tmp_path / "data", "/abs/b.png") == Path("/abs/b.png")
