"""Bytes of a web page -> text, choosing the encoding ourselves.

trafilatura, handed bytes, ignores `<meta charset>` and looks only at the first 15,000 bytes
(adbar/trafilatura#231, #541); Korean newsrooms still serve EUC-KR. So the order is: the HTTP
charset, then a byte-order mark, then `<meta charset>` / `http-equiv` anywhere in the head,
then detection (charset-normalizer). `euc-kr` is read as `cp949`, its superset, as browsers do.
"""

from __future__ import annotations

import codecs
import re

# Labels browsers map onto another codec (WHATWG Encoding: euc-kr is windows-949).
ALIASES = {
    "euc-kr": "cp949", "euckr": "cp949", "ks_c_5601-1987": "cp949", "ks_c_5601": "cp949",
    "x-windows-949": "cp949", "windows-949": "cp949", "korean": "cp949", "csksc56011987": "cp949",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252",
    "x-sjis": "shift_jis", "gb2312": "gb18030", "gbk": "gb18030",
}  # fmt: skip
BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.I)
HEAD_END = re.compile(rb"<body[\s>]", re.I)
SCAN_BYTES = 256 * 1024  # a head this long is absurd, but the meta charset is still found in it


def normalize(label: str | None) -> str | None:
    """A codec name Python knows, with browser aliases applied; None when unknown."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = ALIASES.get(name, name)
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    return ALIASES.get(codec, "cp949" if codec == "euc_kr" else codec)


def meta_charset(body: bytes) -> str | None:
    """The charset a `<meta>` declares, looked for in the head (up to `<body>`), however far in."""
    head = body[:SCAN_BYTES]
    end = HEAD_END.search(head)
    if end:
        head = head[: end.start()]
    for m in META_CHARSET.finditer(head):
        name = normalize(m.group(1).decode("ascii", "ignore"))
        if name:
            return "utf-8" if name.startswith("utf-16") else name  # a page read as bytes is never UTF-16 here
    return None


def decode_html(body: bytes, http_charset: str | None = None) -> tuple[str, str]:
    """(text, encoding used). A declared encoding that does not fit the bytes is passed over."""
    candidates: list[str | None] = [normalize(http_charset)]
    for bom, bom_codec in BOMS:
        if body.startswith(bom):
            candidates.insert(0 if candidates[0] is None else 1, bom_codec)
            break
    candidates.append(meta_charset(body))
    for codec in candidates:
        if codec is None:
            continue
        try:
            text = body.decode("utf-8-sig" if codec == "utf-8" else codec)
        except (UnicodeDecodeError, LookupError):
            continue
        return text.lstrip("\ufeff"), codec
    return detect(body)


def detect(body: bytes) -> tuple[str, str]:
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(body[:SCAN_BYTES]).best()
    name = normalize(best.encoding) if best is not None else None
    if name:
        try:
            return body.decode(name), name
        except (UnicodeDecodeError, LookupError):
            pass
    return body.decode("utf-8", errors="replace"), "utf-8"
