"""Hinted patterns (``recognizers._base.hinted``): the hint is a necessary condition, so a
hinted pattern finds exactly what its plain regex finds, on real sample text, generated long
documents and texts made to hold each pattern's cue."""

from __future__ import annotations

import pytest
import regex
from benchmarks.corpus import long_corpus

from tests.pii.conftest import sample_texts
from thresher.pii.recognizers._base import HintedRegex, hinted
from thresher.pii.segments import segments

CUED = [
    "Franciska's kid came home. Amanda’s daughter Lena left.",
    "Enrico shouted at Gary; Megan lives on Via Tasso 129 and Ole married Kari.",
    "He lives at Storgatan 12 in Malmö, near Nørregade 7 and Hauptstraße 5a.",
    "Villacher Strasse 89, Hegyalja út 98 and Csabai kapu 39. are addresses.",
    "Anchorage, AK 99501 and LAS VEGAS, NV 89101-1234; Springfield , IL  62701.",
    "She was admitted to st. luke's hospital, then Mercy Medical Center and St. Jude Memorial.",
    "Officers of the Leeds Crown Court and the Kent Police Headquarters met Judge Hargreaves.",
    "Dr. A. B. Smith and Mrs Jones met Sgt. Mulroney; DR PATEL saw Lord Justice Underhill.",
    'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY1"',
    "api_key: sk_live_abcdefghijklmnop1234 and Authorization: Bearer abcdefghijklmnopqrstu",
    "my brother, Tom, and their cousin Anna",
]


def _texts() -> list[str]:
    texts = CUED + sample_texts()
    texts.extend(d[s:e] for d in long_corpus(3) for s, e in segments(d))
    return texts


def _hinted_patterns(analyzer):
    for recognizer in analyzer.analyzer.registry.recognizers:
        for pattern in getattr(recognizer, "patterns", None) or []:
            if isinstance(pattern.compiled_regex, HintedRegex):
                yield recognizer, pattern


def test_hinted_patterns_find_what_the_plain_regex_finds(analyzer):
    hinted_patterns = list(_hinted_patterns(analyzer))
    assert len(hinted_patterns) >= 12
    texts = _texts()
    matched = set()
    for recognizer, pattern in hinted_patterns:
        # Presidio would recompile (and drop the hint) if the flags differed
        assert pattern.compiled_with_flags == recognizer.global_regex_flags
        plain = regex.compile(pattern.regex, flags=recognizer.global_regex_flags)
        for text in texts:
            want = [m.span() for m in plain.finditer(text)]
            got = [m.span() for m in pattern.compiled_regex.finditer(text)]
            assert got == want, (recognizer.name, pattern.name)
            if want:
                matched.add(pattern.name)
    # the comparison is not vacuous: most hinted patterns match somewhere in these texts
    assert len(matched) >= 10, sorted(matched)


def test_a_missing_hint_skips_the_pattern():
    from presidio_analyzer import Pattern

    p = hinted(Pattern("p", r"\b\w+(?= Memorial)", 0.5), r" Memorial")
    assert [m.group() for m in p.compiled_regex.finditer("St Jude Memorial")] == ["Jude"]
    assert list(p.compiled_regex.finditer("St Jude Hospital")) == []


@pytest.mark.parametrize("text", ["", "x", "Storgatan\n12"])
def test_edge_texts(analyzer, text):
    for recognizer, pattern in _hinted_patterns(analyzer):
        plain = regex.compile(pattern.regex, flags=recognizer.global_regex_flags)
        assert [m.span() for m in pattern.compiled_regex.finditer(text)] == [
            m.span() for m in plain.finditer(text)
        ]
