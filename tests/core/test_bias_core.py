"""thresher.core.bias: toxicity lexicon matching (obfuscations, word boundaries), identity
counts, drop thresholds, the disparity computation on a case with a known answer, and the
lexicon files' provenance record."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thresher.config import BiasConfig, IdentityToxicityConfig, ToxicityConfig
from thresher.core import bias
from thresher.core.bias import (
    GROUPS,
    bias_signals,
    decide,
    disparity_report,
    filter_keys,
    load_lexicons,
    representation_report,
)
from thresher.stages.bias import bias_rules


@pytest.fixture(scope="module")
def lex():
    return load_lexicons()


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("what the fuck", 1),
        ("What The FUCK!", 1),
        ("sh1t", 1),  # leetspeak
        ("@ss and a$$", 2),
        ("$hit", 1),
        ("1d10t", 1),
        ("fuuuuuck", 1),  # elongation
        ("f.u.c.k", 1),  # separators
        ("f-u-c-k", 1),
        ("f u c k", 1),  # spaced letters
        ("f*ck and sh**", 2),  # masking asterisks
        ("fück", 1),  # accents
        ("you idiot!", 1),
        ("kill yourself", 1),  # phrase
        ("you idiots, morons", 2),
        # negatives: word boundaries, numbers, innocent words
        ("the class will assess the assassin", 0),
        ("a cocktail in Scunthorpe", 0),
        ("passion, bass, glass, grass", 0),
        ("in 2013 about 1337 people", 0),
        ("as is", 0),
        ("a b c", 0),  # spaced letters that spell nothing
        ("****", 0),
        ("", 0),
    ],
)
def test_toxicity_terms(lex, text, terms):
    assert bias_signals(text, lex, window=10)["toxicity_terms"] == terms


def test_toxicity_score_is_terms_per_word(lex):
    s = bias_signals("you are a stupid idiot and nothing else matters here", lex, window=10)
    assert s["toxicity_terms"] == 2 and s["toxicity_score"] == 2 / 10


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Women and men, girls and boys.", {"gender": 4}),
        ("Muslims, Jews and Christians met the atheist.", {"religion": 4}),
        ("An African American family and Asian neighbours.", {"ethnicity_nationality": 2}),
        ("black women", {"ethnicity_nationality": 1, "gender": 1}),
        ("gay and lesbian couples", {"sexual_orientation": 2}),
        ("a deaf student and a wheelchair user", {"disability": 2}),
        ("older adults and teenagers", {"age": 2}),
        ("The blackboard, the mandate and the manager.", {}),  # word boundaries
        ("She said he would come.", {}),  # pronouns are not counted
    ],
)
def test_identity_counts(lex, text, expected):
    counts = bias.identity_counts(text, lex)
    assert counts == {g: expected.get(g, 0) for g in GROUPS}


@pytest.mark.parametrize(
    ("text", "window", "n"),
    [
        ("those immigrants are worthless scum", 10, 2),
        ("those immigrants are worthless scum", 1, 0),  # 2 words away: outside a 1-word window
        ("immigrants worthless", 1, 1),
        ("worthless scum everywhere", 10, 0),  # no identity term
    ],
)
def test_cooccurrences(lex, text, window, n):
    assert bias_signals(text, lex, window)["toxic_identity_cooccurrences"] == n


def _signals(score: float, near: float) -> dict[str, float]:
    return {"toxicity_score": score, "toxic_identity_cooccurrences": near}


@pytest.mark.parametrize(
    ("cfg", "signals", "toxic", "near", "reason"),
    [
        (BiasConfig(), _signals(0.01, 0), False, False, None),  # at the threshold: not flagged
        (BiasConfig(), _signals(0.0101, 0), True, False, None),  # above: flagged, kept
        (
            BiasConfig(toxicity=ToxicityConfig(drop=True)),
            _signals(0.0101, 0),
            True,
            False,
            "toxic_content",
        ),
        (BiasConfig(toxicity=ToxicityConfig(drop=True)), _signals(0.01, 0), False, False, None),
        (
            BiasConfig(identity_toxicity=IdentityToxicityConfig(drop=True, min_cooccurrences=2)),
            _signals(0.0, 2),
            False,
            True,
            "toxic_identity_cooccurrence",
        ),
        (
            BiasConfig(identity_toxicity=IdentityToxicityConfig(drop=True, min_cooccurrences=2)),
            _signals(0.0, 1),
            False,
            False,
            None,
        ),
        (BiasConfig(), _signals(0.0, 5), False, True, None),  # drop rule off: nothing dropped
    ],
)
def test_decide_thresholds(cfg, signals, toxic, near, reason):
    d = decide(signals, bias_rules(cfg))
    assert (d.toxic, d.near, d.reason) == (toxic, near, reason)


def _report_case():
    """400 records reach the filter, 100 are removed (rate 0.25).
    gender: 160 records, 60 removed: rate 0.375, ratio 1.5 > 1.25, 160 >= 50 records, and
      the Wilson 95% lower bound of 0.375 at n=160 (0.3037) is above 0.25 -> flagged.
    religion: 40 records, 20 removed: ratio 2.0 but only 40 records -> not flagged.
    age: 200 records, 40 removed: ratio 0.8 -> not flagged.
    The keys are summed from per-record contributions, as the pipeline does."""
    records: list[tuple[tuple[str, ...], bool]] = []
    records += [(("gender",), True)] * 60 + [(("gender",), False)] * 100
    records += [(("religion", "age"), True)] * 20 + [(("religion", "age"), False)] * 20
    records += [(("age",), True)] * 20 + [(("age",), False)] * 140
    records += [((), False)] * 40
    assert len(records) == 400 and sum(r for _, r in records) == 100
    stats = Counter()
    for groups, removed in records:
        stats.update(filter_keys("gopher_quality", groups, removed))
        stats.update(filter_keys("fineweb", groups, False))
    return stats


def _view(g):
    return {k: g[k] for k in ("records", "removed", "removal_rate", "ratio", "flagged")}


def test_disparity_known_answer():
    report = disparity_report(_report_case(), bound=1.25, min_group_size=50)
    gq = report["filters"]["gopher_quality"]
    assert (gq["records"], gq["removed"], gq["removal_rate"]) == (400, 100, 0.25)
    assert _view(gq["groups"]["gender"]) == {
        "records": 160,
        "removed": 60,
        "removal_rate": 0.375,
        "ratio": 1.5,
        "flagged": True,
    }
    assert gq["groups"]["gender"]["significant"]
    assert gq["groups"]["gender"]["rate_lower"] == pytest.approx(0.3037, abs=1e-4)
    assert _view(gq["groups"]["religion"]) == {
        "records": 40,
        "removed": 20,
        "removal_rate": 0.5,
        "ratio": 2.0,
        "flagged": False,
    }
    assert _view(gq["groups"]["age"]) == {
        "records": 200,
        "removed": 40,
        "removal_rate": 0.2,
        "ratio": 0.8,
        "flagged": False,
    }
    assert set(gq["groups"]) == {"gender", "religion", "age"}
    assert report["flagged"] == [
        {"filter": "gopher_quality", "group": "gender", "ratio": 1.5, "records": 160}
    ]
    fw = report["filters"]["fineweb"]
    assert fw["removal_rate"] == 0.0 and fw["groups"]["gender"]["ratio"] is None
    assert not fw["groups"]["gender"]["significant"]  # nothing removed: nothing to test


def test_disparity_needs_more_than_chance():
    # 1 of 400 in a group against 1 of 1,000 overall: ratio 2.5, but one record proves nothing.
    stats = Counter()
    stats.update(filter_keys("fineweb", ("gender",), True))
    for _ in range(399):
        stats.update(filter_keys("fineweb", ("gender",), False))
    for _ in range(600):
        stats.update(filter_keys("fineweb", (), False))
    g = disparity_report(stats, 1.25, 30)["filters"]["fineweb"]["groups"]["gender"]
    assert g["ratio"] == 2.5 and not g["significant"] and not g["flagged"]
    g = disparity_report(stats, 1.25, 30, confidence=0)["filters"]["fineweb"]["groups"]["gender"]
    assert g["flagged"]  # with the check off, the ratio and the group size decide


@pytest.mark.parametrize(
    ("removed", "records", "confidence", "lower"),
    [
        (5, 10, 0.95, 0.2366),  # Wilson 95% interval of 5/10: [0.2366, 0.7634]
        (0, 10, 0.95, 0.0),
        (10, 10, 0.95, 0.7225),
        (0, 0, 0.95, 0.0),
        (5, 10, 0.0, 0.0),  # check off
    ],
)
def test_wilson_lower(removed, records, confidence, lower):
    assert bias.wilson_lower(removed, records, confidence) == pytest.approx(lower, abs=1e-4)


def test_disparity_bound_is_strict_and_group_size_inclusive():
    # 100 records, 20 removed (0.2); the 40 mentioning disability lose 10 (0.25): ratio 1.25.
    stats = Counter()
    for removed in [True] * 10 + [False] * 50:
        stats.update(filter_keys("c4", (), removed))
    for removed in [True] * 10 + [False] * 30:
        stats.update(filter_keys("c4", ("disability",), removed))
    report = disparity_report(stats, bound=1.25, min_group_size=40, confidence=0)
    g = report["filters"]["c4"]["groups"]["disability"]
    assert (g["ratio"], g["flagged"]) == (1.25, False)  # at the bound: not above it
    report = disparity_report(stats, bound=1.2, min_group_size=40, confidence=0)
    assert report["filters"]["c4"]["groups"]["disability"]["flagged"]  # 40 records: enough
    report = disparity_report(stats, bound=1.2, min_group_size=41, confidence=0)
    assert not report["filters"]["c4"]["groups"]["disability"]["flagged"]


def test_disparity_ignores_other_stats_keys():
    assert disparity_report({"pii.entity.EMAIL": 3}, 1.25, 30)["filters"] == {}


def test_representation_report():
    stats = Counter()
    for signals, toxic in [({"identity_age": 2.0}, False), ({}, True), ({}, False), ({}, False)]:
        stats.update(bias.output_keys(signals, toxic))
    rep = representation_report(stats)
    assert rep["records"] == 4 and rep["toxic_records"] == 1 and rep["toxic_share"] == 0.25
    assert rep["groups"]["age"] == {"records": 1, "share": 0.25}
    assert rep["groups"]["gender"] == {"records": 0, "share": 0.0}


def test_lexicon_files_match_their_provenance_record():
    sidecar = bias.lexicon_sidecar()
    assert set(sidecar["files"]) == {bias.TOXICITY_FILE, bias.IDENTITY_FILE}
    for name, entry in sidecar["files"].items():
        assert entry["sha256"] == bias.file_sha256(name), f"{name} changed: bump its version"
        assert entry["licence"] and entry["provenance"] and entry["version"]
    lex = load_lexicons()
    assert sidecar["files"][bias.TOXICITY_FILE]["terms"] == len(lex.toxic)
    assert sidecar["files"][bias.IDENTITY_FILE]["terms"] == len(lex.identity)
    assert set(lex.identity.values()) == set(GROUPS)


def test_core_modules_do_not_import_beam():
    import subprocess
    import sys

    code = (
        "import sys, thresher.core.quality, thresher.core.bias, thresher.core.language; "
        "sys.exit(1 if any(m.startswith('apache_beam') for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("fuckshit@$1!*.- ab\nIW")), max_size=200))
def test_bias_signals_invariants(text):
    s = bias_signals(text, load_lexicons(), window=3)
    words = len(bias.words_of(text))
    assert 0 <= s["toxicity_terms"] <= words
    assert 0 <= s["toxicity_score"] <= 1
    assert 0 <= s["toxic_identity_cooccurrences"] <= s["toxicity_terms"]
    assert all(s[f"identity_{g}"] >= 0 for g in GROUPS)
    assert bias_signals(text, load_lexicons(), window=3) == s  # deterministic


def _scan_every_word(text: str, lex) -> bias.BiasScan:
    """``scan`` as it was written first: every word visited, one by one (the reference the
    faster scan must agree with)."""
    words = bias.words_of(text)
    tally = bias._Tally([], [], dict.fromkeys(GROUPS, 0), dict.fromkeys(GROUPS, 0))
    spaced: dict[int, int] = {}
    j = 0
    while j < len(words):
        k = j
        while k < len(words) and len(words[k]) == 1 and not words[k].isdigit():
            k += 1
        if k - j >= 3:
            spaced[j] = k
            j = k
        else:
            j += 1
    runs = bias._RUN3.search(" ".join(words)) is not None
    i = 0
    while i < len(words):
        end = spaced.get(i)
        if end is not None and bias._toxic_word("".join(words[i:end]), lex):
            tally.toxic.append(i)
            i = end
            continue
        w = words[i]
        if w in lex.phrase_starts:
            bias._phrases_at(words, i, lex, tally)
        group = lex.identity_words.get(w)
        if group is not None:
            tally.identity(group, i)
        elif w in lex.toxic_words or ((runs or not w.isalpha()) and bias._toxic_word(w, lex)):
            tally.toxic.append(i)
        i += 1
    return bias.BiasScan(len(words), tuple(tally.toxic), tally.counts, tuple(tally.ident_pos))


def _lexicon_words() -> list[str]:
    lex = load_lexicons()
    return sorted({w for p in (*lex.toxic, *lex.identity) for w in p})


_LETTERS_AND_LEET = ("f", "u", "c", "k", "a", "b", "1", "x", "fuuuck", "sh1t", "f*ck", "a$$")
_WORDS = ("kill", "yourself", "black", "women", "gay", "muslim", "people", "the", "2000", "III")
_ODD = ("f.u.c.k", "Dr.", "well-known", "!", ",", "\n", "  ", "ÉCOLE", "naïve", "***")
_PIECES = st.sampled_from([*_lexicon_words()[::7], *_LETTERS_AND_LEET, *_WORDS, *_ODD])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=60), st.sampled_from([" ", "  ", "\n", "-"]))
def test_scan_visits_only_the_words_that_count(pieces, sep):
    """Skipping words that are not listed, hold no run of three and start no spaced run gives
    the result of visiting every word."""
    lex = load_lexicons()
    text = sep.join(pieces)
    assert bias.scan(text, lex) == _scan_every_word(text, lex)


def test_scan_agrees_with_every_word_on_long_text():
    from benchmarks.corpus import long_corpus

    lex = load_lexicons()
    words = _lexicon_words()
    spiced = " ".join(words) + " f u c k a b c fuuuuck s h i t 1d10t " + " ".join(words[::-3])
    texts = [*long_corpus(2), spiced]
    for text in texts:
        assert bias.scan(text, lex) == _scan_every_word(text, lex)
    found = bias.scan(spiced, lex)
    assert len(found.toxic_positions) > 50 and sum(found.identity_counts.values()) > 20
