"""Text normalization: Unicode form, mojibake repair, control characters, whitespace.

``normalize_text`` is idempotent: ``normalize_text(normalize_text(t)) == normalize_text(t)``.
The single pass is applied until it reaches a fixed point (bounded), because ftfy's repairs and
Unicode composition can each expose work for the other; the property test checks the result.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

import ftfy

# C0/C1 control characters except tab and newline, plus other invisible format characters
# that break tokenizers (zero-width space, BOM, bidi overrides). Zero-width joiners (U+200C,
# U+200D) are kept: emoji sequences and Indic/Persian scripts need them.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\ufeff\ufff9-\ufffb]"
)
_HSPACE = re.compile(r"[^\S\n]+")  # any whitespace except newline
_MANY_NEWLINES = re.compile(r"\n{3,}")
_MAX_PASSES = 4
# ftfy repairs non-ASCII characters, HTML entities, terminal escapes and control characters:
# on ASCII text holding no "&" and no control character but tab and newline, it changes
# nothing (a property test compares), so such text skips it.
_FTFY_ASCII_WORK = re.compile(r"[&\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class NormalizeOptions:
    unicode_form: Literal["NFC", "NFKC"] = "NFC"
    fix_mojibake: bool = True
    remove_control_chars: bool = True
    normalize_whitespace: bool = True


def _one_pass(text: str, opts: NormalizeOptions) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if opts.fix_mojibake and not (text.isascii() and _FTFY_ASCII_WORK.search(text) is None):
        # normalization=None: the Unicode form is ours to choose below.
        text = ftfy.fix_text(text, normalization=None, fix_line_breaks=True)
    text = unicodedata.normalize(opts.unicode_form, text)
    if opts.remove_control_chars:
        text = _CONTROL.sub("", text)
    if opts.normalize_whitespace:
        # Unicode line/paragraph separators become newlines; other whitespace runs one space.
        text = text.replace("\u2028", "\n").replace("\u2029", "\n\n").replace("\x85", "\n")
        text = _HSPACE.sub(" ", text)
        text = "\n".join(line.strip() for line in text.split("\n"))
        text = _MANY_NEWLINES.sub("\n\n", text).strip()
    return text


def normalize_text(text: str, opts: NormalizeOptions | None = None) -> str:
    """Normalize ``text``; deterministic and idempotent. Never raises on any ``str``."""
    opts = opts or NormalizeOptions()
    for _ in range(_MAX_PASSES):
        out = _one_pass(text, opts)
        if out == text:
            return out
        text = out
    return text
