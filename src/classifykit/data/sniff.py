"""What a file's bytes are, for honest read errors: a binary format, the likely text encoding, or
UTF-8 about to be read in a legacy encoding (issue 15, defects 6 and 9).

* :func:`binary_kind`: the format named by the file's magic bytes (PNG, JPEG, PDF, ZIP, ...) or
  ``"binary data"`` when its first KiB holds NUL bytes (text never does, except UTF-16/32); None
  for text.
* :func:`encoding_candidates`: charset-normalizer's (``charset_normalizer.from_bytes``) most
  plausible decodings, each with a preview, so the advice shows the text and not a blind guess
  (a GBK file read as latin-1 or cp1252 "works" and trains on mojibake).
* :func:`looks_like_mojibake` / :func:`utf8_misread`: UTF-8 bytes decoded as cp1252 or latin-1.
"""

from __future__ import annotations

from pathlib import Path

SNIFF_BYTES = 1024
# (offset, magic bytes, what it is). Only signatures of 4 or more bytes, so no text starts with one
# by chance (BMP's "BM" would match "BMW ..."; such files hold NUL bytes and are caught by that rule).
MAGIC = (
    (0, b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (0, b"\xff\xd8\xff", "a JPEG image"),
    (0, b"GIF87a", "a GIF image"),
    (0, b"GIF89a", "a GIF image"),
    (8, b"WEBP", "a WebP image"),
    (0, b"II*\x00", "a TIFF image"),
    (0, b"MM\x00*", "a TIFF image"),
    (0, b"%PDF-", "a PDF document"),
    (0, b"PK\x03\x04", "a ZIP archive (or an .xlsx/.docx/.odt file, which are ZIP archives)"),
    (0, b"\x1f\x8b\x08", "a gzip-compressed file"),
    (4, b"1AY&SY", "a bzip2-compressed file"),
    (0, b"\xfd7zXZ\x00", "an xz-compressed file"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Microsoft Office file (.xls/.doc)"),
    (0, b"PAR1", "a Parquet file"),
    (0, b"SQLite format 3\x00", "an SQLite database"),
    (0, b"\x7fELF", "an executable (ELF)"),
)
# The encodings most files in the wild use, in order of preference among equally plausible decodings.
# Detection is limited to them: on short texts charset-normalizer ranks rare code pages first (French
# cp1252 as iso8859_10 "crčme", 12 bytes of GBK Chinese as Korean cp949 or johab; measured).
COMMON = ("utf_8", "utf_16", "utf_32", "cp1252", "gb18030", "big5", "cp932", "shift_jis", "euc_jp", "cp949",
          "euc_kr", "cp1251", "koi8_r", "cp1250", "cp1253", "cp1254", "cp1255", "cp1256", "iso8859_15", "latin_1")


def is_utf8(encoding: str) -> bool:
    """True for the names of UTF-8 (``utf-8``, ``UTF8``, ``utf_8_sig``, ...)."""
    return encoding.lower().replace("_", "-").replace("-sig", "") in ("utf-8", "utf8")


def binary_kind(data: bytes) -> str | None:
    """What the bytes are when they are not text (``"a PNG image"``, ``"binary data"``), else None.

    ``data``: the file's first bytes (at least :data:`SNIFF_BYTES` when the file is that long).
    """
    for offset, magic, kind in MAGIC:
        if data[offset:offset + len(magic)] == magic:
            return kind
    head = data[:SNIFF_BYTES]
    if b"\x00" in head and not _utf16_or_32(head):
        return "binary data"
    return None


def _utf16_or_32(head: bytes) -> bool:
    """True when NUL-holding ``head`` is UTF-16/32 text: a BOM, or (no BOM) NULs at a quarter or more of
    the even or odd byte positions, as mostly-ASCII UTF-16 has, that decode without control characters."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    half = max(len(head) // 2, 1)
    if max(head[0::2].count(0), head[1::2].count(0)) < half / 4:
        return False
    for codec in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        try:
            text = head[: len(head) - len(head) % 4].decode(codec)
        except UnicodeDecodeError:
            continue
        if all(c.isprintable() or c in "\t\r\n" for c in text):
            return True
    return False


def _matches(data: bytes) -> list:
    from charset_normalizer import from_bytes

    return list(from_bytes(data, cp_isolation=list(COMMON)))


def _preview(text: str, width: int = 40) -> str:
    """About ``width`` characters of ``text`` around its first non-ASCII character, on one line."""
    first = next((i for i, c in enumerate(text) if ord(c) > 127), 0)
    start = max(0, first - width // 4)
    return " ".join(text[start:start + width].split())


def encoding_candidates(data: bytes, n: int = 3) -> list[tuple[str, str]]:
    """Up to ``n`` plausible encodings of ``data`` as ``(Python codec name, preview of the decoded text)``,
    most plausible first: charset-normalizer's matches among :data:`COMMON` within 0.05 of the least
    "chaos" (its mess measure, 0..1), in :data:`COMMON` order; empty when none fits."""
    matches = _matches(data)
    if not matches:
        return []
    least = min(m.chaos for m in matches)
    close = [m for m in matches if m.chaos <= least + 0.05]
    rank = {name: i for i, name in enumerate(COMMON)}
    close.sort(key=lambda m: rank.get(m.encoding, len(COMMON)))
    return [(m.encoding, _preview(str(m))) for m in close[:n]]


def encoding_advice(data: bytes, option: str | None = "--encoding") -> str:
    """The sentence that says which encoding ``option`` to pass for undecodable ``data``; with
    ``option`` None (the command has no encoding option) how to save the file as UTF-8 instead."""
    found = encoding_candidates(data)
    if not found:
        return "its bytes fit no common encoding."
    read_as = " or ".join(f"{name} ({preview!r})" for name, preview in found)
    if option is None:
        return f"its bytes read as {read_as}; save it as UTF-8, e.g. iconv -f {found[0][0]} -t utf-8."
    return f"its bytes read as {read_as}; pass the one that shows your text, e.g. {option} {found[0][0]}."


def looks_like_mojibake(text: str) -> bool:
    """True when ``text`` is UTF-8 decoded as cp1252 or latin-1 (``"cafÃ©"`` for ``"café"``): it
    encodes back to non-ASCII bytes in one of them that are valid UTF-8."""
    for legacy in ("cp1252", "latin-1"):
        try:
            raw = text.encode(legacy)
        except UnicodeEncodeError:
            continue
        if not raw.isascii() and _valid_utf8(raw):
            return True
    return False


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def utf8_misread(path: str | Path, data: bytes, encoding: str) -> str | None:
    """The error message when ``data`` (the bytes of ``path``) is UTF-8 with non-ASCII characters but is
    about to be read as another ``encoding`` (which would turn ``é`` into ``Ã©``), else None."""
    if is_utf8(encoding) or data.isascii() or not _valid_utf8(data) or encoding.lower().startswith("utf"):
        return None
    text = data.decode("utf-8-sig")
    if text.isascii():  # only a BOM
        return None
    first = next(i for i, c in enumerate(text) if ord(c) > 127)
    start = max((text.rfind(c, 0, first) for c in " \t\n\r,;"), default=-1) + 1
    ends = [i for i in (text.find(c, first) for c in " \t\n\r,;") if i >= 0]
    sample = text[start:min(ends, default=len(text))][:40]  # the word holding the first non-ASCII character
    try:
        garbled = sample.encode("utf-8").decode(encoding, errors="replace")
    except LookupError:  # an unknown --encoding is reported when the file is decoded
        return None
    return (f"{path}: the file is UTF-8 but is being read as {encoding}, which would turn {sample!r} into "
            f"{garbled!r}; pass --encoding utf-8 for this file.")
