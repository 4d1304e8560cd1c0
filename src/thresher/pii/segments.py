"""Where analysis runs: segments of a document, and runs of sentences inside a segment.

Detections are a pure function of a segment's text, so a repeated segment (boilerplate,
signatures, headers, quoted replies) needs analyzing once; and NER needs to run only on the
sentences that could hold a name. Plain functions on strings, offsets in the input.
"""

from __future__ import annotations

import re
from collections.abc import Callable

SEGMENT_CHARS = 1200
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
# A sentence: up to . ! ? followed by space, or a line.
_SENTENCE = re.compile(r"[^\n]+?(?:[.!?](?=\s)|$)", re.MULTILINE)


def segments(text: str, max_chars: int = SEGMENT_CHARS) -> list[tuple[int, int]]:
    """(start, end) of the analysis segments of ``text``: paragraphs, long ones cut at line
    ends (or, for one huge line, at the last space) so no segment exceeds ``max_chars``.
    Blank segments are left out.

    >>> segments("one\\n\\n  \\n\\ntwo")
    [(0, 3), (9, 12)]
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _PARAGRAPH.finditer(text):
        spans.extend(_cut(text, pos, m.start(), max_chars))
        pos = m.end()
    spans.extend(_cut(text, pos, len(text), max_chars))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _cut(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    out = []
    while end - start > max_chars:
        window = text[start : start + max_chars]
        cut = window.rfind("\n")
        if cut < max_chars // 4:
            cut = max(window.rfind(". "), window.rfind(" "))
        if cut < max_chars // 4:
            cut = max_chars - 1
        out.append((start, start + cut + 1))
        start += cut + 1
    if end > start:
        out.append((start, end))
    return out


def sentence_runs(
    segment: str, keep: Callable[[str], bool], view: str | None = None
) -> list[tuple[int, int]]:
    """Maximal runs of consecutive sentences (or lines) of ``segment`` for which ``keep``
    holds, as (start, end); sentences separated only by white space join one run. ``keep`` is
    judged on the same span of ``view`` (a same-length rewrite of ``segment``, e.g. its
    case-restored form) when given.

    >>> sentence_runs("Ann came. it rained. Bob left.", lambda s: s.strip()[:1].isupper())
    [(0, 9), (20, 30)]
    """
    judged = segment if view is None else view
    runs: list[tuple[int, int]] = []
    for m in _SENTENCE.finditer(segment):
        if not keep(judged[m.start() : m.end()]):
            continue
        if runs and segment[runs[-1][1] : m.start()].strip() == "":
            runs[-1] = (runs[-1][0], m.end())
        else:
            runs.append((m.start(), m.end()))
    return runs
