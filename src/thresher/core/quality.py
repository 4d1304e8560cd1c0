"""Heuristic quality rules: Gopher quality and repetition, C4, FineWeb, length limits.

Every rule set is a pure function ``text + config -> KeepDecision``: ``keep``, a snake_case
``reason`` naming the first rule that failed, the ``signals`` it computed (floats, named
``<rule_set>_<signal>``), the failing signal's ``value`` and ``threshold``, and, for the C4
line-removal variant only, the rewritten ``text``. ``stop_at_first=True`` returns at the first
failing rule (the drop mode); ``False`` computes every signal of the rule set and still reports
the first failure (the annotate mode, so users can re-threshold later).

Thresholds live in ``thresher.config`` next to the paper they come from; the definitions here
follow the papers and, where a paper leaves a detail open, the reference implementation named
at each function (datatrove 0.10 for Gopher and FineWeb, TFDS ``c4_utils`` for C4), so results
can be compared with it (``benchmarks/bench_filters.py``).

Words: ``tokenize`` is a regular-expression approximation of spaCy's English tokenizer, which
datatrove uses: punctuation marks are tokens of their own, contractions split (``do`` +
``n't``), URLs and e-mail addresses stay whole. No state, no randomness: the same text gives
the same decision on every worker.

Example::

    rules = quality_rules(FiltersConfig())          # thresher.stages.filters, from a recipe
    d = gopher_quality("Too short.", rules.gopher_quality)
    d.keep, d.reason, d.value, d.threshold    # False, "gopher_word_count_low", 2.0, 50
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

# --- the rule sets' settings ------------------------------------------------------------------
# Plain frozen values with no defaults: the recipe (``thresher.config``) owns the defaults and
# their sources; the filter stage maps each recipe section onto these (``quality_rules``).


@dataclasses.dataclass(frozen=True)
class LengthRules:
    enabled: bool
    min_chars: int | None
    max_chars: int | None
    min_words: int | None
    max_words: int | None


@dataclasses.dataclass(frozen=True)
class GopherQualityRules:
    enabled: bool
    min_doc_words: int | None
    max_doc_words: int | None
    min_avg_word_length: float | None
    max_avg_word_length: float | None
    max_symbol_word_ratio: float | None
    max_bullet_lines_ratio: float | None
    max_ellipsis_lines_ratio: float | None
    min_alpha_words_ratio: float | None
    min_stop_words: int | None
    stop_words: Sequence[str]
    stop_words_case_sensitive: bool


@dataclasses.dataclass(frozen=True)
class GopherRepetitionRules:
    enabled: bool
    dup_line_frac: float | None
    dup_para_frac: float | None
    dup_line_char_frac: float | None
    dup_para_char_frac: float | None
    top_ngram_char_frac: Mapping[int, float]
    dup_ngram_char_frac: Mapping[int, float]


@dataclasses.dataclass(frozen=True)
class C4Rules:
    enabled: bool
    mode: str  # remove_lines | drop_document
    filter_no_terminal_punct: bool
    min_words_per_line: int
    min_sentences: int
    max_word_length: int | None
    remove_citations: bool
    filter_javascript: bool
    filter_lorem_ipsum: bool
    filter_curly_bracket: bool
    filter_policy: bool
    max_removed_line_frac: float | None


@dataclasses.dataclass(frozen=True)
class FineWebRules:
    enabled: bool
    line_punct_thr: float | None
    line_punct_exclude_zero: bool
    short_line_thr: float | None
    short_line_length: int
    char_duplicates_ratio: float | None
    new_line_ratio: float | None


@dataclasses.dataclass(frozen=True)
class QualityRules:
    """Every rule set, in the order ``evaluate`` runs them."""

    length: LengthRules
    gopher_repetition: GopherRepetitionRules
    gopher_quality: GopherQualityRules
    c4: C4Rules
    fineweb: FineWebRules

    @classmethod
    def from_sections(cls, sections: Mapping[str, Mapping[str, Any]]) -> QualityRules:
        """Build from plain mappings (a recipe section's ``model_dump()``); extra keys of a
        section that no rule reads are ignored."""
        kinds: dict[str, type] = {
            "length": LengthRules,
            "gopher_repetition": GopherRepetitionRules,
            "gopher_quality": GopherQualityRules,
            "c4": C4Rules,
            "fineweb": FineWebRules,
        }
        built = {}
        for name, kind in kinds.items():
            wanted = {f.name for f in dataclasses.fields(kind)}
            built[name] = kind(**{k: v for k, v in sections[name].items() if k in wanted})
        return cls(**built)


@dataclasses.dataclass(frozen=True)
class KeepDecision:
    """The verdict of one rule set (or of all of them, from ``evaluate``).

    ``text`` is the rewritten text when a rule rewrote it (C4 line removal), else ``None``.
    """

    keep: bool
    reason: str | None = None
    signals: Mapping[str, float] = dataclasses.field(default_factory=dict)
    value: float | None = None
    threshold: float | None = None
    text: str | None = None

    def details(self) -> dict[str, Any]:
        """The numbers behind a drop, for ``Fate.details`` (never text)."""
        out: dict[str, Any] = {"signals": dict(sorted(self.signals.items()))}
        if self.value is not None:
            out["value"] = self.value
        if self.threshold is not None:
            out["threshold"] = self.threshold
        return out


# --- words, sentences, punctuation ---------------------------------------------------------

# spaCy's English tokenizer (which datatrove's split_into_words uses) splits punctuation off
# words, splits hyphens between letters, splits contractions and keeps URLs, e-mail
# addresses, abbreviations such as "e.g." / "U.S." and decimal numbers whole. This pattern
# reproduces those cases; the rare remaining differences are measured in the benchmark.
_TOKEN = re.compile(
    r"""
      (?:https?://|www\.)[^\s<>"]+?(?=[.,;:!?)\]'"]*(?:\s|$))   # URL
    | [\w.+-]+@[\w-]+(?:\.[\w-]+)+                               # e-mail address
    | (?:[^\W\d_]\.){2,}                                         # e.g.  U.S.  i.e.
    | (?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|vs|Inc|Ltd|Co|Corp|No|Vol|Fig|approx)\.(?=\s|$)
    | \d+(?:[.,:/]\d+)+                                          # 3.14  1,000  10:30
    | \w+(?=n['’]t\b)                                            # do|n't
    | n['’]t\b
    | ['’](?:s|re|ve|ll|d|m|S|RE|VE|LL|D|M)\b                    # 's 're ...
    | \w+(?:['’]\w+)*                                            # words, O'Brien
    | \.{2,}                                                     # ellipsis
    | --+
    | \S                                                         # any other mark
    """,
    re.VERBOSE,
)
# A word with an apostrophe that ends in a contraction suffix splits into the word and the
# suffix, as spaCy does: "it's" -> "it" + "'s" (while "O'Brien" stays whole).
_CONTRACTION = re.compile(r"(\w+)(['’](?:s|re|ve|ll|d|m|S|RE|VE|LL|D|M))$")


def tokenize(text: str) -> list[str]:
    """Words and punctuation marks of ``text`` (whitespace dropped), spaCy-English-like."""
    out: list[str] = []
    for tok in _TOKEN.findall(text):
        if "'" in tok or "’" in tok:
            m = _CONTRACTION.match(tok)
            if m:
                out.extend(m.groups())
                continue
        out.append(tok)
    return out


def _is_symbol_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PSCZ"


_ASCII_WORD_CHAR = re.compile(r"[A-Za-z0-9]")


def is_symbol(token: str) -> bool:
    """A token made only of punctuation, symbols or control characters."""
    if token.isascii():
        # ASCII letters and digits are the only ASCII characters outside P, S, C and Z.
        return _ASCII_WORD_CHAR.search(token) is None
    return all(_is_symbol_char(c) for c in token)


# Sentence ends, as in spaCy's Sentencizer default punct_chars (the Latin, CJK, Devanagari,
# Arabic and Ethiopic ones; datatrove counts C4 sentences with it).
_SENT_END = frozenset(
    "!.?։؟۔܀܁܂߹।॥၊။።፧፨᙮᜵᜶᠃᠉᥄᥅᪨᪩᪪᪫᭚᭛᭞᭟᰻᰼᱾᱿‼‽⁇⁈⁉⸮⸼꓿꘎꘏꛳꛷꡶꡷꣎꣏꤯꧈꧉꩝꩞꩟꫰꫱꯫﹒﹖﹗！．？｡。"
)


def count_sentences(tokens: Sequence[str]) -> int:
    """Sentences as spaCy's Sentencizer counts them: a new one starts at the first word after
    a sentence-final mark (``.``, ``!``, ``?``, ...)."""
    if not tokens:
        return 0
    count = 1
    seen_end = False
    for tok in tokens:
        if tok in _SENT_END:
            seen_end = True
        elif seen_end and not is_symbol(tok):
            count += 1
            seen_end = False
    return count


# Terminal punctuation for FineWeb's line rule (datatrove TERMINAL_PUNCTUATION, main scripts).
TERMINAL_PUNCTUATION = tuple(_SENT_END | frozenset("…"))


# --- helpers --------------------------------------------------------------------------------


def _ratio(num: float, den: float) -> float:
    if den:
        return num / den
    return float("inf") if num else 0.0


class _Rules:
    """Signal collector for one rule set: records signals, keeps the first failure, and tells
    the caller whether to stop (drop mode) or go on (annotate mode)."""

    def __init__(self, stop_at_first: bool) -> None:
        self.signals: dict[str, float] = {}
        self.stop_at_first = stop_at_first
        self.failed: tuple[str, float, float] | None = None

    def put(self, name: str, value: float) -> float:
        self.signals[name] = float(value)
        return float(value)

    def _fail(self, reason: str, value: float, threshold: float) -> bool:
        if self.failed is None:
            self.failed = (reason, float(value), float(threshold))
        return self.stop_at_first

    def below(self, reason: str, value: float, minimum: float | None) -> bool:
        """Fail when ``value < minimum``; True means: stop here."""
        if minimum is not None and value < minimum:
            return self._fail(reason, value, minimum)
        return False

    def above(self, reason: str, value: float, maximum: float | None) -> bool:
        """Fail when ``value > maximum``; True means: stop here."""
        if maximum is not None and value > maximum:
            return self._fail(reason, value, maximum)
        return False

    def decision(self, text: str | None = None) -> KeepDecision:
        if self.failed is None:
            return KeepDecision(True, None, self.signals, text=text)
        reason, value, threshold = self.failed
        return KeepDecision(False, reason, self.signals, value, threshold, text=text)


# --- length ---------------------------------------------------------------------------------


def length(text: str, cfg: LengthRules, stop_at_first: bool = True) -> KeepDecision:
    """Characters and whitespace-separated words against the recipe's limits.

    Reasons: ``length_chars_low``, ``length_chars_high``, ``length_words_low``,
    ``length_words_high``. Signals: ``length_chars``, ``length_words``.
    """
    r = _Rules(stop_at_first)
    chars = r.put("length_chars", len(text))
    if r.below("length_chars_low", chars, cfg.min_chars) or r.above(
        "length_chars_high", chars, cfg.max_chars
    ):
        return r.decision()
    words = r.put("length_words", len(text.split()))
    if r.below("length_words_low", words, cfg.min_words) or r.above(
        "length_words_high", words, cfg.max_words
    ):
        return r.decision()
    return r.decision()


# --- Gopher quality -------------------------------------------------------------------------


def gopher_quality(
    text: str,
    cfg: GopherQualityRules,
    stop_at_first: bool = True,
    tokens: Sequence[str] | None = None,
) -> KeepDecision:
    """Rae et al. 2021 (Gopher), appendix A.1.1, quality filter; details as datatrove's
    ``GopherQualityFilter``: words counted without pure-punctuation tokens, ratios per token.

    Reasons (in order): ``gopher_word_count_low/high``, ``gopher_mean_word_length_low/high``,
    ``gopher_hash_ratio``, ``gopher_ellipsis_ratio``, ``gopher_bullet_lines``,
    ``gopher_ellipsis_lines``, ``gopher_alpha_words``, ``gopher_stop_words``.
    """
    r = _Rules(stop_at_first)
    words = tokenize(text) if tokens is None else tokens
    n_tokens = len(words)
    # Every count below is a sum over tokens: count each distinct token once, times its count.
    counts = Counter(words)
    real = {w: c for w, c in counts.items() if not is_symbol(w)}
    n_real = sum(real.values())
    n_words = r.put("gopher_word_count", n_real)
    if r.below("gopher_word_count_low", n_words, cfg.min_doc_words) or r.above(
        "gopher_word_count_high", n_words, cfg.max_doc_words
    ):
        return r.decision()
    real_chars = sum(len(w) * c for w, c in real.items())
    mean = r.put("gopher_mean_word_length", _ratio(real_chars, n_real))
    if real and (
        r.below("gopher_mean_word_length_low", mean, cfg.min_avg_word_length)
        or r.above("gopher_mean_word_length_high", mean, cfg.max_avg_word_length)
    ):
        return r.decision()
    hashes = r.put("gopher_hash_ratio", _ratio(text.count("#"), n_tokens))
    if r.above("gopher_hash_ratio", hashes, cfg.max_symbol_word_ratio):
        return r.decision()
    ellipses = text.count("...") + text.count("…")
    ell = r.put("gopher_ellipsis_ratio", _ratio(ellipses, n_tokens))
    if r.above("gopher_ellipsis_ratio", ell, cfg.max_symbol_word_ratio):
        return r.decision()
    lines = text.splitlines()
    bullets = sum(1 for s in lines if s.lstrip().startswith(("•", "-")))
    bullet_frac = r.put("gopher_bullet_lines_frac", _ratio(bullets, len(lines)))
    if r.above("gopher_bullet_lines", bullet_frac, cfg.max_bullet_lines_ratio):
        return r.decision()
    trailing = sum(1 for s in lines if s.rstrip().endswith(("...", "…")))
    ell_frac = r.put("gopher_ellipsis_lines_frac", _ratio(trailing, len(lines)))
    if r.above("gopher_ellipsis_lines", ell_frac, cfg.max_ellipsis_lines_ratio):
        return r.decision()
    alpha = sum(c for w, c in counts.items() if w.isalpha() or any(ch.isalpha() for ch in w))
    alpha_frac = r.put("gopher_alpha_words_frac", _ratio(alpha, n_tokens))
    if r.below("gopher_alpha_words", alpha_frac, cfg.min_alpha_words_ratio):
        return r.decision()
    if cfg.stop_words_case_sensitive:
        present = set(cfg.stop_words).intersection(counts)
    else:
        present = {w.lower() for w in cfg.stop_words}.intersection(w.lower() for w in counts)
    stops = r.put("gopher_stop_words", len(present))
    r.below("gopher_stop_words", stops, cfg.min_stop_words)
    return r.decision()


# --- Gopher repetition ----------------------------------------------------------------------

_PARAGRAPHS = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")


def _duplicates(items: Sequence[str]) -> tuple[int, int]:
    """(elements that repeat an earlier one, their characters); the first copy is free."""
    seen: set[str] = set()
    dup = chars = 0
    for item in items:
        if item in seen:
            dup += 1
            chars += len(item)
        else:
            seen.add(item)
    return dup, chars


def _ids(words: Sequence[str]) -> list[int]:
    table: dict[str, int] = {}
    return [table.setdefault(w, len(table)) for w in words]


class _Grams:
    """The word n-grams of one text as dense integer ids: the n-gram at a position is the pair
    (its first n - 1 words' id, its last word's id), and equal pairs get equal ids (numpy's
    ``unique`` on ``pair = id * base + word``, exact while below 2**63). So two n-grams get the
    same id exactly when they are the same words (no hash collisions), and ids stay below the
    number of positions whatever n is. Ids for n are built from those for n - 1."""

    def __init__(self, ids: Sequence[int]) -> None:
        self._ids = np.asarray(ids, dtype=np.int64)
        self._base = int(self._ids.max()) + 1 if len(self._ids) else 1
        self._keys: dict[int, np.ndarray] = {1: self._ids}
        self._distinct: dict[int, int] = {1: len(np.unique(self._ids))}
        self._unique_from: int | None = None  # smallest n known to have no repeated n-gram

    def keys(self, n: int) -> np.ndarray:
        """Id of the n-gram starting at each position (``len(ids) - n + 1`` of them)."""
        k = max(m for m in self._keys if m <= n)
        keys = self._keys[k]
        while k < n:
            k += 1
            pairs = keys[:-1] * self._base + self._ids[k - 1 :]
            distinct, keys = np.unique(pairs, return_inverse=True)
            keys = keys.reshape(-1)
            self._keys[k] = keys
            self._distinct[k] = len(distinct)
        return keys

    def repeats(self, n: int) -> bool:
        """Whether some n-gram occurs twice. When no n-gram repeats, no longer one does (its
        first n words would repeat), so those are answered without building their ids."""
        if self._unique_from is not None and n >= self._unique_from:
            return False
        keys = self.keys(n)
        if self._distinct[n] == len(keys):
            self._unique_from = n
            return False
        return True


def _top_ngram_chars(grams: _Grams, lengths: list[int], n: int) -> int | None:
    """Characters of the most frequent n-gram (words joined by one space) times its count;
    ties go to the n-gram seen first, as ``Counter.most_common`` does."""
    if len(lengths) < n:
        return None
    keys = grams.keys(n)
    counts = np.bincount(keys)
    count = int(counts.max())
    # each id's first position; of the most frequent ids, the one seen first
    first = np.full(len(counts), len(keys), dtype=np.int64)
    np.minimum.at(first, keys, np.arange(len(keys), dtype=np.int64))
    start = int(first[counts == count].min())
    return (sum(lengths[start : start + n]) + n - 1) * count


def _dup_ngram_chars(grams: _Grams | Sequence[int], prefix: list[int], n: int) -> int:
    """Characters covered by repeated n-grams, counted greedily left to right: a repeat
    claims its n words and the scan jumps past them (Rae et al. 2021, as in datatrove).
    ``grams``: the text's ``_Grams``, or its word ids (``_ids``)."""
    if not isinstance(grams, _Grams):
        grams = _Grams(grams)
    if not grams.repeats(n):  # nothing to claim
        return 0
    keys = grams.keys(n).tolist()
    seen: set[int] = set()
    repeated = 0
    i = 0
    end = len(keys)
    while i < end:
        g = keys[i]
        if g in seen:
            repeated += prefix[i + n] - prefix[i]
            i += n
        else:
            seen.add(g)
            i += 1
    return repeated


def gopher_repetition(
    text: str,
    cfg: GopherRepetitionRules,
    stop_at_first: bool = True,
    tokens: Sequence[str] | None = None,
) -> KeepDecision:
    """Rae et al. 2021 (Gopher), table A1, repetition filter; details as datatrove's
    ``GopherRepetitionFilter`` (paragraphs split on blank lines, fractions of all characters).

    Reasons: ``gopher_empty``, ``gopher_dup_para_frac``, ``gopher_dup_para_char_frac``,
    ``gopher_dup_line_frac``, ``gopher_dup_line_char_frac``, ``gopher_top_<n>_gram``,
    ``gopher_dup_<n>_gram``.
    """
    r = _Rules(stop_at_first)
    if not text:
        r._fail("gopher_empty", 0.0, 0.0)
        return r.decision()
    n_chars = len(text)
    paragraphs = _PARAGRAPHS.split(text.strip())
    dup, chars = _duplicates(paragraphs)
    v = r.put("gopher_dup_para_frac", dup / len(paragraphs))
    if r.above("gopher_dup_para_frac", v, cfg.dup_para_frac):
        return r.decision()
    v = r.put("gopher_dup_para_char_frac", chars / n_chars)
    if r.above("gopher_dup_para_char_frac", v, cfg.dup_para_char_frac):
        return r.decision()
    lines = _LINES.split(text)
    dup, chars = _duplicates(lines)
    v = r.put("gopher_dup_line_frac", dup / len(lines))
    if r.above("gopher_dup_line_frac", v, cfg.dup_line_frac):
        return r.decision()
    v = r.put("gopher_dup_line_char_frac", chars / n_chars)
    if r.above("gopher_dup_line_char_frac", v, cfg.dup_line_char_frac):
        return r.decision()

    words = tokenize(text) if tokens is None else tokens
    grams = _Grams(_ids(words))
    lengths = [len(w) for w in words]
    for n, limit in cfg.top_ngram_char_frac.items():
        top = _top_ngram_chars(grams, lengths, n)
        if top is None:
            continue
        v = r.put(f"gopher_top_{n}_gram_char_frac", top / n_chars)
        if r.above(f"gopher_top_{n}_gram", v, limit):
            return r.decision()
    prefix = [0]
    for k in lengths:
        prefix.append(prefix[-1] + k)
    for n, limit in cfg.dup_ngram_char_frac.items():
        v = r.put(f"gopher_dup_{n}_gram_char_frac", _dup_ngram_chars(grams, prefix, n) / n_chars)
        if r.above(f"gopher_dup_{n}_gram", v, limit):
            return r.decision()
    return r.decision()


# --- C4 -------------------------------------------------------------------------------------

_CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
_C4_END = (".", "?", "!", '"', "'")
# TFDS c4_utils._POLICY_SUBSTRINGS (the reference implementation of Raffel et al. 2020).
_POLICY = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)


@dataclasses.dataclass
class _C4Page:
    """What C4's line pass found on one page."""

    kept: list[str] = dataclasses.field(default_factory=list)  # lines; "" marks a paragraph
    lines: int = 0
    removed: int = 0
    sentences: int = 0
    js: int = 0
    policy: int = 0
    lorem: bool = False
    curly: bool = False

    def text(self) -> str:
        return "\n".join(self.kept).strip()


def _c4_line_shape(raw: str, cfg: C4Rules) -> str | None:
    """The line with citations removed, or None when its shape removes it (a word too long,
    no terminal punctuation or an ellipsis, too few words)."""
    line = raw.strip()
    words = line.split()
    if cfg.max_word_length is not None and max(map(len, words), default=0) > cfg.max_word_length:
        return None
    if cfg.remove_citations:
        line = _CITATION.sub("", line)
    if cfg.filter_no_terminal_punct and (not line.endswith(_C4_END) or line.endswith("...")):
        return None
    if len(words) < cfg.min_words_per_line:
        return None
    return line


def _c4_line_content(line: str, cfg: C4Rules, r: _Rules, page: _C4Page) -> str:
    """``stop`` (a page rule failed and drop mode stops), ``removed`` or ``kept``; in TFDS
    order: lorem ipsum, javascript, curly bracket, policy."""
    low = line.lower()
    if cfg.filter_lorem_ipsum and "lorem ipsum" in low:
        page.lorem = True
        if r._fail("c4_lorem_ipsum", 1.0, 0.0):
            return "stop"
    if cfg.filter_javascript and "javascript" in low:
        page.js += 1
        return "removed"
    if cfg.filter_curly_bracket and "{" in line:
        page.curly = True
        if r._fail("c4_curly_bracket", 1.0, 0.0):
            return "stop"
    if cfg.filter_policy and any(p in low for p in _POLICY):
        page.policy += 1
        return "removed"
    return "kept"


def _c4_lines(text: str, cfg: C4Rules, r: _Rules) -> _C4Page:
    page = _C4Page()
    for raw in text.splitlines():
        if not raw.strip():
            # a paragraph break, not a line: kept once between kept lines, never counted
            if page.kept and page.kept[-1]:
                page.kept.append("")
            continue
        page.lines += 1
        line = _c4_line_shape(raw, cfg)
        verdict = "removed" if line is None else _c4_line_content(line, cfg, r, page)
        if verdict == "stop":
            break
        if verdict == "removed" or line is None:
            page.removed += 1
            continue
        page.sentences += count_sentences(tokenize(line))
        page.kept.append(line)
    return page


def c4(text: str, cfg: C4Rules, stop_at_first: bool = True) -> KeepDecision:
    """Raffel et al. 2020 (C4), section 2.2, line by line as TFDS ``c4_utils.clean_page``.

    A line is removed when it has a word over ``max_word_length`` characters, does not end in
    terminal punctuation (or ends in an ellipsis), has fewer than ``min_words_per_line``
    words, mentions javascript, or holds a cookie/policy phrase. The page is dropped on
    "lorem ipsum" or a curly bracket in a line that got that far (``c4_lorem_ipsum``,
    ``c4_curly_bracket``), on fewer than ``min_sentences`` sentences in the kept lines
    (``c4_too_few_sentences``) and, when set, on losing more than ``max_removed_line_frac``
    of its lines (``c4_removed_line_frac``); a rewrite that would leave nothing fails
    ``c4_no_lines_left``. Blank lines are paragraph breaks, not lines: they are neither
    counted nor removed, and a rewrite keeps one blank line wherever kept lines were
    separated by one or more (TFDS joins every kept line with a newline, losing them).
    ``mode: remove_lines`` returns the kept lines as ``text`` (None when nothing changed);
    ``drop_document`` never rewrites. Signals: ``c4_lines`` (non-blank), ``c4_removed_lines``,
    ``c4_removed_line_frac``, ``c4_sentences``, ``c4_lorem_ipsum``, ``c4_curly_bracket``,
    ``c4_javascript_lines``, ``c4_policy_lines``.
    """
    r = _Rules(stop_at_first)
    page = _c4_lines(text, cfg, r)
    r.put("c4_lorem_ipsum", float(page.lorem))
    r.put("c4_curly_bracket", float(page.curly))
    if r.failed is not None and stop_at_first:
        return r.decision()
    r.put("c4_lines", page.lines)
    r.put("c4_removed_lines", page.removed)
    r.put("c4_javascript_lines", page.js)
    r.put("c4_policy_lines", page.policy)
    n = r.put("c4_sentences", page.sentences)
    if r.below("c4_too_few_sentences", n, cfg.min_sentences):
        return r.decision()
    frac = r.put("c4_removed_line_frac", _ratio(page.removed, page.lines))
    if r.above("c4_removed_line_frac", frac, cfg.max_removed_line_frac):
        return r.decision()
    if cfg.mode != "remove_lines":
        return r.decision()
    new = page.text()
    if not new:  # only reachable with min_sentences 0: never keep an emptied record
        r._fail("c4_no_lines_left", 0.0, 0.0)
        return r.decision()
    return r.decision(new if new != text else None)


# --- FineWeb --------------------------------------------------------------------------------


def fineweb(
    text: str,
    cfg: FineWebRules,
    stop_at_first: bool = True,
    tokens: Sequence[str] | None = None,
) -> KeepDecision:
    """Penedo et al. 2024 (FineWeb), its own heuristic filters, as datatrove's
    ``FineWebQualityFilter`` (the released pipeline). Over non-blank lines: the fraction
    ending in terminal punctuation (``fineweb_line_punct_ratio``), the fraction of short
    lines (``fineweb_short_line_ratio``), the fraction of characters in repeated lines
    (``fineweb_char_dup_ratio``) and newlines per word (``fineweb_list_ratio``). A text
    without a non-blank line fails ``fineweb_empty``.
    """
    r = _Rules(stop_at_first)
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        r._fail("fineweb_empty", 0.0, 0.0)
        return r.decision()
    ended = sum(1 for line in lines if line.endswith(TERMINAL_PUNCTUATION))
    v = r.put("fineweb_line_punct_ratio", ended / len(lines))
    exempt = v == 0 and cfg.line_punct_exclude_zero
    if not exempt and r.below("fineweb_line_punct_ratio", v, cfg.line_punct_thr):
        return r.decision()
    short = sum(1 for line in lines if len(line) <= cfg.short_line_length)
    v = r.put("fineweb_short_line_ratio", short / len(lines))
    if r.above("fineweb_short_line_ratio", v, cfg.short_line_thr):
        return r.decision()
    _, dup_chars = _duplicates(lines)
    v = r.put("fineweb_char_dup_ratio", _ratio(dup_chars, len(text) - text.count("\n")))
    if r.above("fineweb_char_dup_ratio", v, cfg.char_duplicates_ratio):
        return r.decision()
    words = tokenize(text) if tokens is None else tokens
    v = r.put("fineweb_list_ratio", _ratio(text.count("\n"), len(words)))
    r.above("fineweb_list_ratio", v, cfg.new_line_ratio)
    return r.decision()


# --- all rule sets --------------------------------------------------------------------------

RULE_SETS: tuple[str, ...] = ("length", "gopher_repetition", "gopher_quality", "c4", "fineweb")


@dataclasses.dataclass(frozen=True)
class QualityOutcome:
    """``evaluate``'s result: the combined decision, the rule set that failed first (None when
    kept) and every rule set that would fail (in annotate mode, all of them are evaluated)."""

    decision: KeepDecision
    rule_set: str | None
    failing: tuple[str, ...]


def evaluate(text: str, cfg: QualityRules, annotate: bool = False) -> QualityOutcome:
    """Run the enabled rule sets in the FineWeb pipeline's order (length, Gopher repetition,
    Gopher quality, C4, FineWeb); the rule sets after C4 see its rewritten text.

    Drop mode (``annotate=False``) stops at the first failing rule set. Annotate mode runs
    every rule set on the original text, never rewrites, and reports all signals.
    """
    signals: dict[str, float] = {}
    failing: list[str] = []
    first: tuple[str, KeepDecision] | None = None
    current = text
    tokens: list[str] | None = None
    rewritten: str | None = None

    def words() -> list[str]:
        nonlocal tokens
        if tokens is None:
            tokens = tokenize(current)
        return tokens

    steps: list[tuple[str, Any, Callable[[], KeepDecision]]] = [
        ("length", cfg.length, lambda: length(current, cfg.length, not annotate)),
        (
            "gopher_repetition",
            cfg.gopher_repetition,
            lambda: gopher_repetition(current, cfg.gopher_repetition, not annotate, words()),
        ),
        (
            "gopher_quality",
            cfg.gopher_quality,
            lambda: gopher_quality(current, cfg.gopher_quality, not annotate, words()),
        ),
        ("c4", cfg.c4, lambda: c4(current, cfg.c4, not annotate)),
        ("fineweb", cfg.fineweb, lambda: fineweb(current, cfg.fineweb, not annotate, words())),
    ]
    for name, section, run in steps:
        if not section.enabled:
            continue
        d = run()
        signals.update(d.signals)
        if not d.keep:
            failing.append(name)
            if first is None:
                first = (name, d)
            if not annotate:
                break
        elif d.text is not None and not annotate:
            current = rewritten = d.text
            tokens = None
    if first is None:
        return QualityOutcome(KeepDecision(True, None, signals, text=rewritten), None, ())
    name, d = first
    combined = KeepDecision(False, d.reason, signals, d.value, d.threshold)
    return QualityOutcome(combined, name, tuple(failing))
