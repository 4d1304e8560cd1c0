"""Quality rules for conversations: the checks that fit turns, in place of the web-document
rule sets (length, Gopher, C4, FineWeb), which do not fit a two-line answer.

A conversation is a sequence of turns (``thresher.records.Turn``); a *response* is an
assistant turn. ``evaluate_chat`` runs, in order:

- ``too_many_turns``: more than ``max_turns`` turns (the deciding turn is the first one past
  the limit);
- ``no_assistant_turn``: nothing to train on;
- then each response, in turn order: ``empty_response`` (blank after strip),
  ``short_response`` / ``long_response`` (whitespace-separated words against
  ``min_response_words`` / ``max_response_words``), ``refusal`` (a phrase of the refusal list,
  see ``RefusalMatcher``), ``repeated_response_ngrams`` (Gopher's repeated word 3-gram
  character fraction, computed on the response alone, above
  ``max_response_dup_ngram_frac``) and ``copies_prompt`` (the fraction of the response's word
  5-grams that occur in the turns before it, at least ``max_prompt_copy_frac``; responses under
  five words are not measured).

The first failure decides: its reason, the index and role of the deciding turn and the numbers
behind it (``ChatDecision.details``), never text. ``annotate=True`` evaluates every rule on
every response and still reports the first failure, so users can re-threshold later. Signals
(floats): ``chat_turns``, ``chat_assistant_turns``, ``chat_response_words_min`` /
``_max``, and for the rules that are on ``chat_refusal_turns``,
``chat_response_dup_3_gram_char_frac_max`` and ``chat_prompt_copy_frac_max``. Pure functions,
no state: the same conversation gives the same decision on every worker.

Example::

    rules = ChatRules(True, 1, 8000, True, 0.3, 0.9, 64)
    turns = (Turn("user", "Hi"), Turn("assistant", "As an AI language model, I cannot."))
    d = evaluate_chat(turns, rules, shipped_refusals())
    d.keep, d.reason, d.turn, d.role     # False, "refusal", 1, "assistant"
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from thresher.core.quality import _dup_ngram_chars, _ids, is_symbol, tokenize
from thresher.errors import ConfigError
from thresher.records import Turn

RULE_SET = "chat"
REFUSAL_FILE = "refusal_phrases.txt"
ASSISTANT = "assistant"
# Gopher's repeated n-gram size for short texts (Rae et al. 2021, table A1: the smallest n it
# checks); a response is short text.
DUP_NGRAM = 3
# Copying is measured on word 5-grams: long enough that shared phrasing ("in the United
# States") does not count, short enough to catch a copied sentence.
COPY_NGRAM = 5

# --- refusal phrases ----------------------------------------------------------------------------

_APOSTROPHES = str.maketrans(dict.fromkeys("’‘ʼ`´′＇", "'"))
_SPACE = re.compile(r"\s+")


def normalize_phrase_text(text: str) -> str:
    """What refusal matching compares: casefolded, curly apostrophes straight, each run of
    whitespace one space."""
    return _SPACE.sub(" ", text.translate(_APOSTROPHES).casefold()).strip()


class RefusalMatcher:
    """Finds refusal and assistant-boilerplate phrases in a response.

    A phrase matches case-insensitively, with whitespace runs and apostrophe forms normalized
    (``normalize_phrase_text``), as whole words: "as an AI" matches "As an AI, I" but not
    "as an AIM user". ``find`` returns the phrase's line number in its file (a number for
    lineage details, never the text). Picklable: the compiled pattern travels with the DoFn.
    """

    def __init__(self, phrases: Sequence[tuple[int, str]], source: str = REFUSAL_FILE) -> None:
        if not phrases:
            raise ConfigError(
                f"filters.chat.refusal_phrases_file: {source} holds no phrase; add one phrase "
                "per line, or set filters.chat.refusals: false"
            )
        self.lines = tuple(line for line, _ in phrases)
        alternatives = "|".join(f"({re.escape(normalize_phrase_text(p))})" for _, p in phrases)
        self._pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")

    @classmethod
    def parse(cls, text: str, source: str = REFUSAL_FILE) -> RefusalMatcher:
        """From a phrase file's text: one phrase per line; blank lines and ``#`` comments
        ignored. ``source`` names the file in errors."""
        phrases = [
            (number, line.strip())
            for number, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.lstrip().startswith("#")
        ]
        return cls(phrases, source)

    def __len__(self) -> int:
        return len(self.lines)

    def find(self, text: str) -> int | None:
        """The file line of the first phrase found in ``text`` (earliest position; the
        earlier-listed phrase where two start there), or None."""
        m = self._pattern.search(normalize_phrase_text(text))
        if m is None or m.lastindex is None:
            return None
        return self.lines[m.lastindex - 1]


@functools.cache
def shipped_refusals() -> RefusalMatcher:
    """The shipped list (``thresher/data/refusal_phrases.txt``), parsed once per process."""
    text = resources.files("thresher").joinpath("data", REFUSAL_FILE).read_text("utf-8")
    return RefusalMatcher.parse(text)


# --- rules ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ChatRules:
    """The recipe's ``filters.chat`` thresholds (the filter stage maps the section here; the
    phrase list is passed to ``evaluate_chat`` as a ``RefusalMatcher``)."""

    enabled: bool
    min_response_words: int | None
    max_response_words: int | None
    refusals: bool
    max_response_dup_ngram_frac: float | None
    max_prompt_copy_frac: float | None
    max_turns: int | None

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> ChatRules:
        """From a recipe section's ``model_dump()``; keys no rule reads are ignored."""
        wanted = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in section.items() if k in wanted})


@dataclasses.dataclass(frozen=True)
class ChatDecision:
    """The verdict on one conversation: ``keep``, the first failing rule's ``reason``, the
    index and role of the turn that decided it (None for a rule on the whole conversation),
    the failing ``value`` and ``threshold``, ``extra`` numbers (``phrase_line``) and every
    signal computed."""

    keep: bool
    reason: str | None = None
    turn: int | None = None
    role: str | None = None
    value: float | None = None
    threshold: float | None = None
    extra: Mapping[str, int] = dataclasses.field(default_factory=dict)
    signals: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def details(self) -> dict[str, Any]:
        """The numbers behind a drop, for ``Fate.details`` (never text)."""
        out: dict[str, Any] = {"rule_set": RULE_SET}
        if self.turn is not None:
            out["turn"] = self.turn
            out["role"] = self.role
        if self.value is not None:
            out["value"] = self.value
        if self.threshold is not None:
            out["threshold"] = self.threshold
        out.update(self.extra)
        out["signals"] = dict(sorted(self.signals.items()))
        return out


class _Verdicts:
    """Signal collector: keeps the first failure and says whether to stop (drop mode)."""

    def __init__(self, stop_at_first: bool) -> None:
        self.stop_at_first = stop_at_first
        self.signals: dict[str, float] = {}
        self.failed: ChatDecision | None = None

    def most(self, name: str, value: float) -> None:
        self.signals[name] = max(self.signals.get(name, float(value)), float(value))

    def least(self, name: str, value: float) -> None:
        self.signals[name] = min(self.signals.get(name, float(value)), float(value))

    def fail(
        self,
        reason: str,
        turn: int | None,
        role: str | None,
        value: float,
        threshold: float | None,
        **extra: int,
    ) -> bool:
        """Record a failure (the first one wins); True means: stop here."""
        if self.failed is None:
            self.failed = ChatDecision(
                False, reason, turn, role, float(value), threshold, dict(extra)
            )
        return self.stop_at_first

    def decision(self) -> ChatDecision:
        signals = dict(sorted(self.signals.items()))
        if self.failed is None:
            return ChatDecision(True, signals=signals)
        return dataclasses.replace(self.failed, signals=signals)


def response_dup_ngram_frac(text: str, tokens: Sequence[str] | None = None) -> float:
    """Characters covered by repeated word 3-grams over all characters of ``text``: Gopher's
    ``dup_3_gram`` signal (``thresher.core.quality.gopher_repetition``) on one response."""
    if not text:
        return 0.0
    words = tokenize(text) if tokens is None else tokens
    lengths = [len(w) for w in words]
    prefix = [0]
    for k in lengths:
        prefix.append(prefix[-1] + k)
    return _dup_ngram_chars(_ids(words), prefix, DUP_NGRAM) / len(text)


def copy_words(tokens: Sequence[str]) -> list[str]:
    """The words copying is measured on: tokens without punctuation, casefolded."""
    return [t.casefold() for t in tokens if not is_symbol(t)]


def _grams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return list(zip(*(words[i:] for i in range(n)), strict=False))


def _length_rules(i: int, content: str, rules: ChatRules, v: _Verdicts) -> bool | None:
    """Empty and word-bound rules of response ``i``: True stop, False go on, None: the
    response is empty (nothing else to measure)."""
    words = len(content.split())
    v.least("chat_response_words_min", words)
    v.most("chat_response_words_max", words)
    if not content.strip():
        return v.fail("empty_response", i, ASSISTANT, 0.0, None) or None
    low, high = rules.min_response_words, rules.max_response_words
    if low is not None and words < low and v.fail("short_response", i, ASSISTANT, words, low):
        return True
    return high is not None and words > high and v.fail("long_response", i, ASSISTANT, words, high)


def _content_rules(
    i: int,
    content: str,
    tokens: Sequence[str],
    earlier: set[tuple[str, ...]],
    rules: ChatRules,
    refusals: RefusalMatcher | None,
    v: _Verdicts,
) -> bool:
    """Refusal, repetition and prompt-copy rules of response ``i`` (``tokens``: its
    ``tokenize``); True: stop here."""
    if refusals is not None:
        line = refusals.find(content)
        if line is not None:
            v.signals["chat_refusal_turns"] += 1
            if v.fail("refusal", i, ASSISTANT, 1.0, None, phrase_line=line):
                return True
    dup_limit = rules.max_response_dup_ngram_frac
    if dup_limit is not None:
        frac = response_dup_ngram_frac(content, tokens)
        v.most(f"chat_response_dup_{DUP_NGRAM}_gram_char_frac_max", frac)
        if frac > dup_limit and v.fail("repeated_response_ngrams", i, ASSISTANT, frac, dup_limit):
            return True
    copy_limit = rules.max_prompt_copy_frac
    grams = _grams(copy_words(tokens), COPY_NGRAM)
    if copy_limit is None or not grams:  # fewer than COPY_NGRAM words: not measured
        return False
    frac = sum(1 for g in grams if g in earlier) / len(grams)
    v.most("chat_prompt_copy_frac_max", frac)
    return frac >= copy_limit and v.fail("copies_prompt", i, ASSISTANT, frac, copy_limit)


def _conversation_rules(turns: Sequence[Turn], rules: ChatRules, v: _Verdicts) -> bool:
    """``too_many_turns`` and ``no_assistant_turn``; True: stop here."""
    n = len(turns)
    v.signals["chat_turns"] = float(n)
    responses = sum(1 for t in turns if t.role == ASSISTANT)
    v.signals["chat_assistant_turns"] = float(responses)
    limit = rules.max_turns
    if (
        limit is not None
        and n > limit
        and v.fail("too_many_turns", limit, turns[limit].role, n, limit)
    ):
        return True
    if not responses:
        v.fail("no_assistant_turn", None, None, 0.0, 1.0)
        return True  # no response to measure, in either mode
    return False


def evaluate_chat(
    turns: Sequence[Turn],
    rules: ChatRules,
    refusals: RefusalMatcher | None,
    annotate: bool = False,
) -> ChatDecision:
    """Run the chat rules on one conversation (module docstring: order, reasons, signals).

    ``refusals`` is the phrase list (None: the refusal rule is off, as with
    ``rules.refusals`` false). Drop mode (``annotate=False``) stops at the first failure;
    annotate mode measures every response and reports all signals.
    """
    v = _Verdicts(stop_at_first=not annotate)
    if _conversation_rules(turns, rules, v):
        return v.decision()
    matcher = refusals if rules.refusals else None
    if matcher is not None:
        v.signals["chat_refusal_turns"] = 0.0
    measure_copies = rules.max_prompt_copy_frac is not None
    earlier: set[tuple[str, ...]] = set()
    for i, turn in enumerate(turns):
        tokens: list[str] | None = None
        if turn.role == ASSISTANT:
            stop = _length_rules(i, turn.content, rules, v)
            if stop is None:
                continue
            if stop:
                return v.decision()
            tokens = tokenize(turn.content)
            if _content_rules(i, turn.content, tokens, earlier, rules, matcher, v):
                return v.decision()
        if measure_copies:
            tokens = tokenize(turn.content) if tokens is None else tokens
            earlier.update(_grams(copy_words(tokens), COPY_NGRAM))
    return v.decision()


__all__ = [
    "RULE_SET",
    "ChatDecision",
    "ChatRules",
    "RefusalMatcher",
    "evaluate_chat",
    "response_dup_ngram_frac",
    "shipped_refusals",
]
