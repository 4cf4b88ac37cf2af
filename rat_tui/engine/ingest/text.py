"""Bytes of a landing file as text: the encodings exports come in, and what is not text at all."""

from __future__ import annotations

import codecs
import re


class UnreadableFile(Exception):
    """A landing file that cannot be read; the message is the reason written beside it in quarantine."""


_CONTROLS = re.compile(r"[\x01-\x08\x0b\x0e-\x1f\x7f]")


def decode(raw: bytes, encoding: str | None = None) -> tuple[str, bool]:
    """The file's text and whether it differs from UTF-8 without a byte-order mark; raise
    UnreadableFile for what is not text. UTF-16/32 with a BOM (Excel's "Unicode text") and
    Windows-1252/Latin-1 exports from older systems load rather than being refused; `encoding`
    (from `[landing.<name>]`) is taken as given."""
    if encoding:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise UnreadableFile(f"it is not {encoding} text ({exc.reason} at byte {exc.start})") from None
        return _checked(text.removeprefix("\ufeff")), encoding not in ("utf-8", "utf8")
    detected = None
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        detected = "utf-32"
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        detected = "utf-16"
    elif len(raw) % 2 == 0 and len(raw) >= 4:  # UTF-16 without a BOM: every other byte of ASCII text is NUL
        even, odd = raw[:4096:2], raw[1:4096:2]
        if odd.count(0) >= 0.9 * len(odd) and not even.count(0):
            detected = "utf-16-le"
        elif even.count(0) >= 0.9 * len(even) and not odd.count(0):
            detected = "utf-16-be"
    if detected:
        try:
            text = raw.decode(detected)
        except UnicodeDecodeError as exc:
            raise UnreadableFile(f"it looks like {detected.upper()} text but is not ({exc.reason})") from None
        return _checked(text), True
    changed = raw.startswith(codecs.BOM_UTF8)
    body = raw[len(codecs.BOM_UTF8) :] if changed else raw
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        changed = True
        try:
            text = body.decode("cp1252")
        except UnicodeDecodeError:
            text = body.decode("latin-1")
    return _checked(text), changed


def _checked(text: str) -> str:
    if not text or text.isspace():
        raise UnreadableFile("the file holds only blank lines")
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise UnreadableFile(
            f"it holds NUL bytes (the first on line {line}): a binary file or a damaged copy, not CSV text"
        )
    sample = text[:65536]
    if len(_CONTROLS.findall(sample)) > len(sample) / 100:
        raise UnreadableFile("it is not text (binary content); rat reads CSV text, JSON and Parquet")
    return text


def json_bytes(raw: bytes, encoding: str | None = None) -> bytes:
    """JSON as UTF-8 without a byte-order mark (PowerShell and Notepad write one)."""
    if encoding and encoding not in ("utf-8", "utf8"):
        try:
            return raw.decode(encoding).removeprefix("\ufeff").encode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnreadableFile(f"it is not {encoding} text ({exc.reason} at byte {exc.start})") from None
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :]
    for bom, name in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if raw.startswith(bom):
            return raw[len(bom) :].decode(name, errors="replace").encode("utf-8")
    return raw


def snippet(line: str) -> str:
    line = re.sub(r"[\x00-\x1f]+", " ", line).strip()
    return repr(line if len(line) <= 60 else line[:57] + "...")
