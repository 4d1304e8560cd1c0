"""Table-driven tests of thresher.core.quality: every rule just inside and just outside its
threshold, plus negatives. Each rule is isolated by switching the other rules of its set off."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thresher.config import (
    C4FilterConfig,
    FiltersConfig,
    FineWebFilterConfig,
    GopherQualityConfig,
    GopherRepetitionConfig,
    LengthFilterConfig,
)
from thresher.core.quality import (
    c4,
    count_sentences,
    evaluate,
    fineweb,
    gopher_quality,
    gopher_repetition,
    length,
    tokenize,
)

# --- helpers ------------------------------------------------------------------------------

_FILLER = [a + b + c for a in "bcdfghjkmnpqrs" for b in "aeiou" for c in "prstvzlmnk"]


def filler(n: int, start: int = 0) -> list[str]:
    """n distinct three-letter words (never a stop word nor a lexicon term)."""
    return _FILLER[start : start + n]


def pad_to(text: str, total: int, start: int = 200) -> str:
    """Append distinct filler words so that ``len(result) == total`` exactly."""
    out = text
    i = start
    while total - len(out) > 4:
        out += " " + _FILLER[i]
        i += 1
    rest = total - len(out)
    if rest > 0:
        # a final distinct word of the exact length left (one space + rest-1 letters)
        out += " " + ("q" * (rest - 1)) if rest > 1 else "."
    assert len(out) == total
    return out


def words_text(n_other: int, stops: tuple[str, ...] = ("the", "and")) -> str:
    return " ".join([*stops, *filler(n_other)])


NO_REP = dict(
    dup_line_frac=None,
    dup_para_frac=None,
    dup_line_char_frac=None,
    dup_para_char_frac=None,
    top_ngram_char_frac={},
    dup_ngram_char_frac={},
)
NO_GQ = dict(
    min_doc_words=None,
    max_doc_words=None,
    min_avg_word_length=None,
    max_avg_word_length=None,
    max_symbol_word_ratio=None,
    max_bullet_lines_ratio=None,
    max_ellipsis_lines_ratio=None,
    min_alpha_words_ratio=None,
    min_stop_words=None,
)
NO_FW = dict(
    line_punct_thr=None, short_line_thr=None, char_duplicates_ratio=None, new_line_ratio=None
)


def only(cls, off: dict, **on):
    return cls(**{**off, **on})


# --- tokenizer ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Don't stop.", ["Do", "n't", "stop", "."]),
        ("it's well-known", ["it", "'s", "well", "-", "known"]),
        ("Pay $5.50 (10%)", ["Pay", "$", "5.50", "(", "10", "%", ")"]),
        ("see e.g. the U.S. Mr. Smith", ["see", "e.g.", "the", "U.S.", "Mr.", "Smith"]),
        ("wait... now…", ["wait", "...", "now", "…"]),
        (
            "mail bob@example.com or https://x.org/a?b=1.",
            ["mail", "bob@example.com", "or", "https://x.org/a?b=1", "."],
        ),
        ("#tag!!", ["#", "tag", "!", "!"]),
        ("", []),
    ],
)
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("One. Two! Three? Four", 4),
        ('He said "hi." Then left.', 2),
        ("Mr. Smith went home.", 1),  # abbreviation, not a sentence end
        ("No end mark here", 1),
        ("Wait... what", 1),  # an ellipsis does not end a sentence (spaCy sentencizer)
        ("", 0),
    ],
)
def test_count_sentences(text, n):
    assert count_sentences(tokenize(text)) == n


# --- length -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cfg", "text", "reason"),
    [
        (dict(min_chars=10), "a" * 10, None),
        (dict(min_chars=10), "a" * 9, "length_chars_low"),
        (dict(max_chars=10), "a" * 10, None),
        (dict(max_chars=10), "a" * 11, "length_chars_high"),
        (dict(min_words=3), "a b c", None),
        (dict(min_words=3), "a b", "length_words_low"),
        (dict(max_words=3), "a b c", None),
        (dict(max_words=3), "a b c d", "length_words_high"),
        ({}, "", None),  # no limits set: nothing is dropped
    ],
)
def test_length(cfg, text, reason):
    d = length(text, LengthFilterConfig(**cfg))
    assert (d.keep, d.reason) == (reason is None, reason)
    assert d.signals["length_chars"] == len(text)


# --- Gopher quality -----------------------------------------------------------------------


def _long_words(x: int) -> str:
    # two 3-letter stop words + one x-letter word + 47 ten-letter words: mean = (x + 476) / 50
    tens = [f"{w}abcdefg" for w in filler(47)]
    return " ".join(["the", "and", "z" * x, *tens])


GQ_CASES = [
    # (name, config overrides, text, expected reason, signal, expected signal value)
    ("words_at_min", dict(min_doc_words=50), words_text(48), None, "gopher_word_count", 50),
    (
        "words_below_min",
        dict(min_doc_words=50),
        words_text(47),
        "gopher_word_count_low",
        "gopher_word_count",
        49,
    ),
    ("words_at_max", dict(max_doc_words=60), words_text(58), None, "gopher_word_count", 60),
    (
        "words_above_max",
        dict(max_doc_words=60),
        words_text(59),
        "gopher_word_count_high",
        "gopher_word_count",
        61,
    ),
    (
        "punct_not_words",
        dict(min_doc_words=50),
        words_text(47) + " . , ;",
        "gopher_word_count_low",
        "gopher_word_count",
        49,
    ),
    (
        "mean_at_min",
        dict(min_avg_word_length=3),
        " ".join(["the", "and", *["cat"] * 48]),
        None,
        "gopher_mean_word_length",
        3.0,
    ),
    (
        "mean_below_min",
        dict(min_avg_word_length=3),
        " ".join(["the", "and", "at", *["cat"] * 47]),
        "gopher_mean_word_length_low",
        "gopher_mean_word_length",
        2.98,
    ),
    (
        "mean_at_max",
        dict(max_avg_word_length=10),
        _long_words(24),
        None,
        "gopher_mean_word_length",
        10.0,
    ),
    (
        "mean_above_max",
        dict(max_avg_word_length=10),
        _long_words(25),
        "gopher_mean_word_length_high",
        "gopher_mean_word_length",
        10.02,
    ),
    (
        "hash_at_max",
        dict(max_symbol_word_ratio=0.1),
        words_text(52) + " #" * 6,
        None,
        "gopher_hash_ratio",
        0.1,
    ),
    (
        "hash_above_max",
        dict(max_symbol_word_ratio=0.1),
        words_text(52) + " #" * 7,
        "gopher_hash_ratio",
        "gopher_hash_ratio",
        7 / 61,
    ),
    (
        "ellipsis_at_max",
        dict(max_symbol_word_ratio=0.1),
        words_text(52) + " ..." * 6 + " end",
        None,
        "gopher_ellipsis_ratio",
        6 / 61,
    ),
    (
        "ellipsis_above_max",
        dict(max_symbol_word_ratio=0.1),
        words_text(48) + " …" * 7 + " end",
        "gopher_ellipsis_ratio",
        "gopher_ellipsis_ratio",
        7 / 58,
    ),
    (
        "bullets_at_max",
        dict(max_bullet_lines_ratio=0.9),
        "\n".join(["- " + " ".join(filler(6, 6 * i)) for i in range(9)] + ["plain line"]),
        None,
        "gopher_bullet_lines_frac",
        0.9,
    ),
    (
        "bullets_above_max",
        dict(max_bullet_lines_ratio=0.9),
        "\n".join(["• " + " ".join(filler(6, 6 * i)) for i in range(10)]),
        "gopher_bullet_lines",
        "gopher_bullet_lines_frac",
        1.0,
    ),
    (
        "end_ellipsis_at_max",
        dict(max_ellipsis_lines_ratio=0.3),
        "\n".join([" ".join(filler(6, 6 * i)) + (" ..." if i < 3 else ".") for i in range(10)]),
        None,
        "gopher_ellipsis_lines_frac",
        0.3,
    ),
    (
        "end_ellipsis_above_max",
        dict(max_ellipsis_lines_ratio=0.3),
        "\n".join([" ".join(filler(6, 6 * i)) + ("…" if i < 4 else ".") for i in range(10)]),
        "gopher_ellipsis_lines",
        "gopher_ellipsis_lines_frac",
        0.4,
    ),
    (
        "alpha_at_min",
        dict(min_alpha_words_ratio=0.8),
        words_text(46) + " 123" * 12,
        None,
        "gopher_alpha_words_frac",
        0.8,
    ),
    (
        "alpha_below_min",
        dict(min_alpha_words_ratio=0.8),
        words_text(46) + " 123" * 13,
        "gopher_alpha_words",
        "gopher_alpha_words_frac",
        48 / 61,
    ),
    ("stops_at_min", dict(min_stop_words=2), words_text(48), None, "gopher_stop_words", 2),
    (
        "stops_below_min",
        dict(min_stop_words=2),
        words_text(49, ("the",)),
        "gopher_stop_words",
        "gopher_stop_words",
        1,
    ),
    (
        "stops_repeated_count_once",
        dict(min_stop_words=2),
        words_text(48, ("the", "the")),
        "gopher_stop_words",
        "gopher_stop_words",
        1,
    ),
    (
        "stops_any_case",
        dict(min_stop_words=2),
        words_text(48, ("The", "AND")),
        None,
        "gopher_stop_words",
        2,
    ),
    (
        "stops_case_sensitive",
        dict(min_stop_words=2, stop_words_case_sensitive=True),
        words_text(48, ("The", "And")),
        "gopher_stop_words",
        "gopher_stop_words",
        0,
    ),
]


@pytest.mark.parametrize(
    ("cfg", "text", "reason", "signal", "value"),
    [c[1:] for c in GQ_CASES],
    ids=[c[0] for c in GQ_CASES],
)
def test_gopher_quality_rule(cfg, text, reason, signal, value):
    d = gopher_quality(text, only(GopherQualityConfig, NO_GQ, **cfg))
    assert (d.keep, d.reason) == (reason is None, reason)
    assert math.isclose(d.signals[signal], value, rel_tol=1e-9)
    if reason:
        assert math.isclose(d.value, value, rel_tol=1e-9)


def test_gopher_quality_paper_defaults_on_prose():
    prose = (
        "The committee reviewed the proposal and found that it had merit, although several "
        "members raised concerns about the cost. After a long discussion, they agreed to "
        "revisit the question next month with better data. The chair thanked everyone for "
        "their time and asked the staff to prepare a summary of the options for the board."
    )
    d = gopher_quality(prose, GopherQualityConfig())
    assert d.keep and d.reason is None
    assert d.signals["gopher_stop_words"] >= 4


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "gopher_word_count_low"),
        ("Click here.", "gopher_word_count_low"),
        ("# " * 200 + words_text(60), "gopher_hash_ratio"),
    ],
)
def test_gopher_quality_negatives_with_paper_defaults(text, reason):
    assert gopher_quality(text, GopherQualityConfig()).reason == reason


def test_gopher_quality_annotate_computes_every_signal():
    d = gopher_quality("Too short.", GopherQualityConfig(), stop_at_first=False)
    assert d.reason == "gopher_word_count_low"
    assert {"gopher_stop_words", "gopher_alpha_words_frac", "gopher_hash_ratio"} <= set(d.signals)
    early = gopher_quality("Too short.", GopherQualityConfig())
    assert set(early.signals) == {"gopher_word_count"}


# --- Gopher repetition --------------------------------------------------------------------


def _paras(unique: int, repeats: int, sep: str) -> str:
    parts = [" ".join(filler(3, 3 * i)) for i in range(unique)]
    parts += [parts[0]] * repeats
    return sep.join(parts)


def _ngram_block(n: int, k: int) -> str:
    """n distinct one-letter words repeated k times."""
    return " ".join(list("xyzuvwlmno"[:n]) * k)


def _dup_block(n: int) -> str:
    """n distinct three-letter words, twice: repeated characters = 3n."""
    block = " ".join(f"{c}{c}{c}" for c in "xyzuvwlmno"[:n])
    return block + " " + block


REP_CASES = [
    (
        "para_frac_at_max",
        dict(dup_para_frac=0.3),
        _paras(7, 3, "\n\n"),
        None,
        "gopher_dup_para_frac",
        0.3,
    ),
    (
        "para_frac_above_max",
        dict(dup_para_frac=0.3),
        _paras(6, 4, "\n\n"),
        "gopher_dup_para_frac",
        "gopher_dup_para_frac",
        0.4,
    ),
    (
        "para_chars_at_max",
        dict(dup_para_char_frac=0.2),
        pad_to("r" * 20 + "\n\n" + "r" * 20 + "\n\n" + "u" * 10, 100),
        None,
        "gopher_dup_para_char_frac",
        0.2,
    ),
    (
        "para_chars_above_max",
        dict(dup_para_char_frac=0.2),
        pad_to("r" * 20 + "\n\n" + "r" * 20 + "\n\n" + "u" * 10, 99),
        "gopher_dup_para_char_frac",
        "gopher_dup_para_char_frac",
        20 / 99,
    ),
    (
        "line_frac_at_max",
        dict(dup_line_frac=0.3),
        _paras(7, 3, "\n"),
        None,
        "gopher_dup_line_frac",
        0.3,
    ),
    (
        "line_frac_above_max",
        dict(dup_line_frac=0.3),
        _paras(6, 4, "\n"),
        "gopher_dup_line_frac",
        "gopher_dup_line_frac",
        0.4,
    ),
    (
        "line_chars_at_max",
        dict(dup_line_char_frac=0.2),
        pad_to("r" * 20 + "\n" + "r" * 20 + "\n" + "u" * 10, 100),
        None,
        "gopher_dup_line_char_frac",
        0.2,
    ),
    (
        "line_chars_above_max",
        dict(dup_line_char_frac=0.2),
        pad_to("r" * 20 + "\n" + "r" * 20 + "\n" + "u" * 10, 99),
        "gopher_dup_line_char_frac",
        "gopher_dup_line_char_frac",
        20 / 99,
    ),
    (
        "paragraphs_not_lines",
        dict(dup_para_frac=0.3),
        _paras(6, 4, "\n"),
        None,
        "gopher_dup_para_frac",
        0.0,
    ),
]
for _n, _frac in ((2, 0.20), (3, 0.18), (4, 0.16)):
    _chars = (2 * _n - 1) * 10  # the top n-gram, ten times
    _total = math.ceil(_chars / _frac - 1e-9)
    REP_CASES += [
        (
            f"top_{_n}_at_max",
            dict(top_ngram_char_frac={_n: _frac}),
            pad_to(_ngram_block(_n, 10), _total),
            None,
            f"gopher_top_{_n}_gram_char_frac",
            _chars / _total,
        ),
        (
            f"top_{_n}_above_max",
            dict(top_ngram_char_frac={_n: _frac}),
            pad_to(_ngram_block(_n, 10), _total - 1),
            f"gopher_top_{_n}_gram",
            f"gopher_top_{_n}_gram_char_frac",
            _chars / (_total - 1),
        ),
    ]
for _n, _frac in ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)):
    _chars = 3 * _n
    _total = math.ceil(_chars / _frac - 1e-9)
    REP_CASES += [
        (
            f"dup_{_n}_at_max",
            dict(dup_ngram_char_frac={_n: _frac}),
            pad_to(_dup_block(_n), _total),
            None,
            f"gopher_dup_{_n}_gram_char_frac",
            _chars / _total,
        ),
        (
            f"dup_{_n}_above_max",
            dict(dup_ngram_char_frac={_n: _frac}),
            pad_to(_dup_block(_n), _total - 1),
            f"gopher_dup_{_n}_gram",
            f"gopher_dup_{_n}_gram_char_frac",
            _chars / (_total - 1),
        ),
    ]


@pytest.mark.parametrize(
    ("cfg", "text", "reason", "signal", "value"),
    [c[1:] for c in REP_CASES],
    ids=[c[0] for c in REP_CASES],
)
def test_gopher_repetition_rule(cfg, text, reason, signal, value):
    d = gopher_repetition(text, only(GopherRepetitionConfig, NO_REP, **cfg))
    assert (d.keep, d.reason) == (reason is None, reason)
    assert math.isclose(d.signals[signal], value, rel_tol=1e-9)


def test_gopher_repetition_greedy_skips_claimed_words():
    # "a b c d e" x3: the 2nd copy is claimed at once, the 3rd too: 2 x 5 characters.
    text = " ".join("abcde" * 3)
    d = gopher_repetition(text, only(GopherRepetitionConfig, NO_REP, dup_ngram_char_frac={5: 1}))
    assert d.signals["gopher_dup_5_gram_char_frac"] == 10 / len(text)


def test_gopher_repetition_negatives():
    prose = " ".join(filler(120))
    assert gopher_repetition(prose, GopherRepetitionConfig()).keep
    assert gopher_repetition("", GopherRepetitionConfig()).reason == "gopher_empty"
    spam = "Buy cheap watches now.\n" * 20
    assert not gopher_repetition(spam, GopherRepetitionConfig()).keep


def test_top_ngram_tie_goes_to_first_seen():
    # "p q" (3 chars) and "rr ss" (5 chars) both occur twice; the first seen wins.
    text = "p q rr ss p q rr ss"
    d = gopher_repetition(text, only(GopherRepetitionConfig, NO_REP, top_ngram_char_frac={2: 1}))
    assert d.signals["gopher_top_2_gram_char_frac"] == 6 / len(text)


# --- C4 -----------------------------------------------------------------------------------

GOOD = [
    "The river rose quickly after the storm.",
    "Farmers moved their animals to higher ground.",
    "Volunteers filled sandbags through the night.",
    "By morning the water had started to fall.",
    "Officials praised the calm response of residents.",
]


def c4_text(*extra: str) -> str:
    return "\n".join([*GOOD, *extra])


C4_CASES = [
    # (name, overrides, text, reason, kept lines or None when dropped)
    ("five_sentences", {}, c4_text(), None, 5),
    ("four_sentences", {}, "\n".join(GOOD[:4]), "c4_too_few_sentences", None),
    ("two_sentences_one_line", {}, "\n".join(GOOD[:3]) + "\nIt fell. Then it rose.", None, 4),
    ("no_terminal_punct", {}, c4_text("Read more about the storm"), None, 5),
    ("ends_with_ellipsis", {}, c4_text("And then the water came..."), None, 5),
    ("ends_with_quote", {}, c4_text('She said "we are safe now."'), None, 6),
    (
        "punct_rule_off",
        dict(filter_no_terminal_punct=False),
        c4_text("Read more about the storm"),
        None,
        6,
    ),
    ("three_words", {}, c4_text("It rained again."), None, 6),
    ("two_words", {}, c4_text("Rain again."), None, 5),
    ("javascript_line", {}, c4_text("Please enable JavaScript to view this page."), None, 5),
    ("policy_line", {}, c4_text("This site uses cookies to improve your visit."), None, 5),
    ("lorem_ipsum", {}, c4_text("Lorem ipsum dolor sit amet."), "c4_lorem_ipsum", None),
    (
        "lorem_ipsum_off",
        dict(filter_lorem_ipsum=False),
        c4_text("Lorem ipsum dolor sit amet."),
        None,
        6,
    ),
    ("curly_bracket", {}, c4_text("Use the value {x} here."), "c4_curly_bracket", None),
    ("curly_in_removed_line", {}, c4_text("function f() {"), None, 5),
    ("word_at_max_length", dict(max_word_length=10), c4_text("A tenletters word here."), None, 6),
    (
        "word_over_max_length",
        dict(max_word_length=10),
        c4_text("An elevenchars word here."),
        None,
        5,
    ),
    (
        "removed_frac_at_max",
        dict(max_removed_line_frac=0.5),
        c4_text(*["no end mark"] * 5),
        None,
        5,
    ),
    (
        "removed_frac_above_max",
        dict(max_removed_line_frac=0.5),
        c4_text(*["no end mark"] * 6),
        "c4_removed_line_frac",
        None,
    ),
]


@pytest.mark.parametrize(
    ("cfg", "text", "reason", "kept"), [c[1:] for c in C4_CASES], ids=[c[0] for c in C4_CASES]
)
def test_c4_rule(cfg, text, reason, kept):
    d = c4(text, C4FilterConfig(**cfg))
    assert (d.keep, d.reason) == (reason is None, reason)
    if kept is not None:
        out = d.text if d.text is not None else text
        assert len(out.split("\n")) == kept
        assert d.signals["c4_lines"] - d.signals["c4_removed_lines"] == kept


def test_c4_rewrites_only_in_remove_lines_mode():
    text = c4_text("Read more", "Accept our cookie policy now please.")
    d = c4(text, C4FilterConfig())
    assert d.keep and d.text == "\n".join(GOOD)
    assert d.signals["c4_removed_lines"] == 2 and d.signals["c4_policy_lines"] == 1
    same = c4(text, C4FilterConfig(mode="drop_document"))
    assert same.keep and same.text is None
    assert c4(c4_text(), C4FilterConfig()).text is None  # nothing removed: no rewrite


def test_c4_never_keeps_an_emptied_text():
    cfg = C4FilterConfig(min_sentences=0)
    assert c4("no end mark\nnone here either", cfg).reason == "c4_no_lines_left"
    assert c4("no end mark", cfg.model_copy(update={"mode": "drop_document"})).keep


def test_c4_strips_citations():
    d = c4(c4_text("The flood was the worst on record.[1]"), C4FilterConfig())
    assert d.text.endswith("The flood was the worst on record.")


def test_c4_annotate_reports_both_page_rules():
    text = c4_text("Lorem ipsum dolor sit amet.", "Use the value {x} here.")
    d = c4(text, C4FilterConfig(), stop_at_first=False)
    assert d.reason == "c4_lorem_ipsum"
    assert d.signals["c4_lorem_ipsum"] == 1.0 and d.signals["c4_curly_bracket"] == 1.0
    # annotate mode goes on counting the flagged lines as kept lines
    assert d.signals["c4_sentences"] == 7


# --- FineWeb ------------------------------------------------------------------------------


def _lines(n: int, ended: int, length: int = 40) -> str:
    out = []
    for i in range(n):
        body = " ".join(filler(12, 12 * i))[: length - 1]
        out.append(body + ("." if i < ended else "x"))
    return "\n".join(out)


def _dup_line_text(total_chars: int) -> str:
    # one 10-character line twice: 10 duplicated characters
    head = "rrrrrrrrrr\nrrrrrrrrrr\n"
    body = pad_to("u", total_chars - 20, start=300)  # newlines do not count
    return head + body


FW_CASES = [
    (
        "punct_at_min",
        dict(line_punct_thr=0.12),
        _lines(25, 3),
        None,
        "fineweb_line_punct_ratio",
        0.12,
    ),
    (
        "punct_below_min",
        dict(line_punct_thr=0.12),
        _lines(25, 2),
        "fineweb_line_punct_ratio",
        "fineweb_line_punct_ratio",
        0.08,
    ),
    (
        "punct_zero_exempt",
        dict(line_punct_thr=0.12, line_punct_exclude_zero=True),
        _lines(25, 0),
        None,
        "fineweb_line_punct_ratio",
        0.0,
    ),
    (
        "short_at_max",
        dict(short_line_thr=0.67),
        "\n".join([_lines(67, 0, 30), _lines(33, 0, 31)]),
        None,
        "fineweb_short_line_ratio",
        0.67,
    ),
    (
        "short_above_max",
        dict(short_line_thr=0.67),
        "\n".join([_lines(68, 0, 30), _lines(32, 0, 31)]),
        "fineweb_short_line_ratio",
        "fineweb_short_line_ratio",
        0.68,
    ),
    (
        "dup_chars_at_max",
        dict(char_duplicates_ratio=0.01),
        _dup_line_text(1000),
        None,
        "fineweb_char_dup_ratio",
        0.01,
    ),
    (
        "dup_chars_above_max",
        dict(char_duplicates_ratio=0.01),
        _dup_line_text(999),
        "fineweb_char_dup_ratio",
        "fineweb_char_dup_ratio",
        10 / 999,
    ),
    (
        "list_at_max",
        dict(new_line_ratio=0.3),
        "a b c\nd e f\ng h i\nj",
        None,
        "fineweb_list_ratio",
        0.3,
    ),
    (
        "list_above_max",
        dict(new_line_ratio=0.3),
        "a b c\nd e f\ng h i\nj\n",
        "fineweb_list_ratio",
        "fineweb_list_ratio",
        0.4,
    ),
]


@pytest.mark.parametrize(
    ("cfg", "text", "reason", "signal", "value"),
    [c[1:] for c in FW_CASES],
    ids=[c[0] for c in FW_CASES],
)
def test_fineweb_rule(cfg, text, reason, signal, value):
    d = fineweb(text, only(FineWebFilterConfig, NO_FW, **cfg))
    assert (d.keep, d.reason) == (reason is None, reason)
    assert math.isclose(d.signals[signal], value, rel_tol=1e-9)


def test_fineweb_negatives():
    assert fineweb("  \n\n ", FineWebFilterConfig()).reason == "fineweb_empty"
    assert fineweb("\n".join(GOOD), FineWebFilterConfig()).keep
    menu = "\n".join(["Home", "About us", "Contact", "Shop", "Blog"])
    assert fineweb(menu, FineWebFilterConfig()).reason == "fineweb_line_punct_ratio"


# --- all rule sets ------------------------------------------------------------------------

PROSE = "\n".join(
    [
        "The committee reviewed the proposal and found that it had merit, although several "
        "members raised concerns about the cost of the new bridge.",
        "After a long discussion, they agreed to revisit the question next month with better "
        "data and a clearer plan for the works.",
        "The chair thanked everyone for their time and asked the staff to prepare a summary "
        "of the options before the next meeting.",
        "Residents who live near the river said that they would welcome any plan that reduces "
        "the risk of flooding in the spring.",
        "Several local firms have offered to help with the survey, and the council expects to "
        "publish the results early next year.",
    ]
)


def test_evaluate_keeps_prose_with_all_signals():
    out = evaluate(PROSE, FiltersConfig())
    assert out.decision.keep and out.rule_set is None and out.failing == ()
    names = set(out.decision.signals)
    assert {
        "length_chars",
        "gopher_word_count",
        "gopher_dup_10_gram_char_frac",
        "c4_sentences",
        "fineweb_list_ratio",
    } <= names


def test_evaluate_drop_mode_stops_at_first_failing_rule_set():
    # A two-word page is one bigram: its top 2-gram holds all of its characters.
    out = evaluate("Click here", FiltersConfig())
    assert out.rule_set == "gopher_repetition" and out.failing == ("gopher_repetition",)
    assert out.decision.reason == "gopher_top_2_gram"
    assert not any(k.startswith(("gopher_word", "c4_", "fineweb_")) for k in out.decision.signals)
    assert out.decision.details()["value"] == 1.0
    assert out.decision.details()["threshold"] == 0.2


def test_evaluate_annotate_runs_every_rule_set_and_never_rewrites():
    text = PROSE + "\nRead more"
    out = evaluate("Click here", FiltersConfig(), annotate=True)
    assert out.failing == ("gopher_repetition", "gopher_quality", "c4", "fineweb")
    assert out.decision.reason == "gopher_top_2_gram"
    assert out.decision.signals["gopher_word_count"] == 2
    kept = evaluate(text, FiltersConfig(), annotate=True)
    assert kept.decision.text is None and kept.decision.keep


def test_evaluate_later_rules_see_c4_rewrite():
    menu = [
        "Home",
        "Shop",
        "Blog",
        "Help",
        "Menu",
        "Cart",
        "News",
        "Jobs",
        "Team",
        "Press",
        "Legal",
        "Sitemap",
    ]
    text = PROSE + "\n" + "\n".join(menu)
    out = evaluate(text, FiltersConfig())
    assert out.decision.keep  # FineWeb sees the page without the menu lines C4 removed
    assert out.decision.text == PROSE
    raw = fineweb(text, FineWebFilterConfig())
    assert not raw.keep


def test_evaluate_disabled_rule_sets_are_skipped():
    cfg = FiltersConfig(
        gopher_quality=GopherQualityConfig(enabled=False),
        c4=C4FilterConfig(enabled=False),
        fineweb=FineWebFilterConfig(enabled=False),
        gopher_repetition=GopherRepetitionConfig(enabled=False),
    )
    out = evaluate("Click here", cfg)
    assert out.decision.keep
    assert set(out.decision.signals) == {"length_chars", "length_words"}


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .!?#-•…{}\n\t1'")), max_size=300))
def test_evaluate_drop_and_annotate_agree(text):
    # Without C4's rewrite both modes see the same text: the same verdict and first reason.
    cfg = FiltersConfig(c4=C4FilterConfig(mode="drop_document"))
    drop = evaluate(text, cfg)
    note = evaluate(text, cfg, annotate=True)
    assert drop.decision.keep == (drop.decision.reason is None) == (note.failing == ())
    if not drop.decision.keep:
        assert drop.rule_set == note.failing[0]
        assert drop.decision.reason == note.decision.reason
    assert set(drop.decision.signals) <= set(note.decision.signals)
    assert all(isinstance(v, float) for v in note.decision.signals.values())


def test_c4_keeps_paragraph_breaks():
    """Issue 18: removing lines kept no blank line; a blank line stays a blank line (one, where
    a removed line or several blank lines stood between two paragraphs) and is not counted as
    a removed line."""
    para1 = "\n".join(GOOD[:3])
    para2 = "\n".join(GOOD[3:])
    text = f"{para1}\n\nRead more\n\n\n{para2}\nShare this\n\nHome"
    d = c4(text, C4FilterConfig())
    assert d.keep and d.text == f"{para1}\n\n{para2}"
    assert d.signals["c4_lines"] == len(GOOD) + 3 and d.signals["c4_removed_lines"] == 3
    # nothing removed: a text with paragraphs is not rewritten at all
    assert c4(f"{para1}\n\n{para2}", C4FilterConfig()).text is None


def _reference_top(words: list[str], n: int) -> int | None:
    """The top n-gram's characters times its count, from tuples and a Counter (first seen
    wins a tie), as datatrove computes it."""
    from collections import Counter

    if len(words) < n:
        return None
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    gram, count = Counter(grams).most_common(1)[0]
    return len(" ".join(gram)) * count


def _reference_dup(words: list[str], n: int) -> int:
    """Characters of repeated n-grams, greedy left to right over tuples."""
    seen: set[tuple[str, ...]] = set()
    repeated = i = 0
    while i + n <= len(words):
        gram = tuple(words[i : i + n])
        if gram in seen:
            repeated += sum(len(w) for w in gram)
            i += n
        else:
            seen.add(gram)
            i += 1
    return repeated


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "bb", "a", "ccc", "dd", "a", "e"]), max_size=60))
def test_ngram_ids_count_what_tuples_count(words):
    """The n-gram ids (numpy, dense) give the top and duplicate n-gram characters that plain
    word tuples give, for every n from 1 to 10, ties and empty texts included."""
    from thresher.core.quality import _dup_ngram_chars, _Grams, _ids, _top_ngram_chars

    grams = _Grams(_ids(words))
    lengths = [len(w) for w in words]
    prefix = [0]
    for k in lengths:
        prefix.append(prefix[-1] + k)
    for n in range(1, 11):
        assert _top_ngram_chars(grams, lengths, n) == _reference_top(words, n)
        assert _dup_ngram_chars(grams, prefix, n) == _reference_dup(words, n)
        assert _dup_ngram_chars(_ids(words), prefix, n) == _reference_dup(words, n)
