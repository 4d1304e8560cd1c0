"""Bias heuristics: lexicon toxicity score, identity-term counts, filter disparity.

Lexicons are versioned data files in ``thresher/data`` (``toxicity-en-v1.tsv``,
``identity-en-v1.tsv``), with version, sha256, provenance and licence in
``thresher/data/lexicons.json``. They load once per process (``load_lexicons``).

Matching works on whole words (so "class" never matches "ass", nor "Scunthorpe" anything),
case-insensitively, and sees through common obfuscation: accents (``fück``), leetspeak
(``sh1t``, ``@ss``, ``$hit``), elongation (``fuuuuck``), separators (``f.u.c.k``,
``f-u-c-k``), spaced letters (``f u c k``) and masking asterisks (``f*ck``, ``sh**``).

Conversations: every turn is scanned on its own (``turn_bias``; a co-occurrence never spans two
turns), the record's signals sum the turns' counts and take the highest turn's toxicity score
(``chat_bias_signals``: one toxic turn is not diluted by long answers around it), the turn that
decides a drop is named (``deciding_turn``), and per-role counts of the kept turns
(``bias.role.<role>...``, ``role_keys``) give the manifest's ``roles`` report.

Disparity: filter stages count, per filter, the records that reached it and the records it
removed, overall and per identity group mentioned, as summable stats keys
(``bias.filter.<filter>.records``, ``.removed``, ``.group.<group>.records``,
``.group.<group>.removed``); ``disparity_report`` turns the summed keys into removal rates
and ratios. Pure functions, no state beyond the cached lexicons, deterministic.

Example::

    lex = load_lexicons()
    s = bias_signals("You are an 1d10t and a f*cking liar.", lex, window=10)
    s["toxicity_terms"]        # 2.0
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from statistics import NormalDist
from typing import Any

from thresher.errors import ConfigError
from thresher.records import ROLES, Turn

GROUPS: tuple[str, ...] = (
    "gender",
    "religion",
    "ethnicity_nationality",
    "sexual_orientation",
    "disability",
    "age",
)
TOXICITY_FILE = "toxicity-en-v1.tsv"
IDENTITY_FILE = "identity-en-v1.tsv"
SIDECAR = "lexicons.json"

# Chunks between whitespace and the separators that never occur inside an obfuscated word.
_CHUNK = re.compile(r"[^\s/,;:()\[\]{}\"“”<>]+")
_EDGE = "'’.?!*-_"
_LEET = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "8": "b",
        "@": "a",
        "$": "s",
        "!": "i",
        "|": "i",
        "+": "t",
    }
)
_SEPARATED = re.compile(r"^\w(?:[.\-_*]\w)+$")
_RUN3 = re.compile(r"(.)\1\1")
_RUNS = re.compile(r"(.)\1+")


@dataclasses.dataclass(frozen=True)
class Lexicons:
    """Toxic terms and identity terms, as phrases of normalized words."""

    toxic: frozenset[tuple[str, ...]]
    identity: Mapping[tuple[str, ...], str]
    toxic_squeezed: Mapping[str, str]
    toxic_by_length: Mapping[int, tuple[str, ...]]
    phrase_starts: frozenset[str]
    max_phrase: int
    versions: Mapping[str, str]
    toxic_words: frozenset[str]  # the one-word toxic terms
    identity_words: Mapping[str, str]  # the one-word identity terms -> group
    listed: frozenset[str]  # every word that is a term or starts a phrase


def _read_tsv(name: str) -> list[tuple[str, str]]:
    text = resources.files("thresher").joinpath("data", name).read_text(encoding="utf-8")
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[1].strip():
            raise ConfigError(f"lexicon {name} line {number}: expected 'category<TAB>term'")
        rows.append((parts[0].strip(), parts[1].strip().lower()))
    return rows


def lexicon_sidecar() -> dict[str, Any]:
    """The provenance and licence record of the lexicon files."""
    raw = resources.files("thresher").joinpath("data", SIDECAR).read_text(encoding="utf-8")
    return json.loads(raw)


def file_sha256(name: str) -> str:
    data = resources.files("thresher").joinpath("data", name).read_bytes()
    return hashlib.sha256(data).hexdigest()


def _squeeze(word: str) -> str:
    return _RUNS.sub(r"\1", word)


@functools.cache
def load_lexicons() -> Lexicons:
    """Load both lexicons once per process."""
    toxic: set[tuple[str, ...]] = set()
    for _category, term in _read_tsv(TOXICITY_FILE):
        toxic.add(tuple(term.split()))
    identity: dict[tuple[str, ...], str] = {}
    for group, term in _read_tsv(IDENTITY_FILE):
        if group not in GROUPS:
            raise ConfigError(f"lexicon {IDENTITY_FILE}: unknown group {group!r}")
        identity[tuple(term.split())] = group
    singles = sorted(t[0] for t in toxic if len(t) == 1)
    squeezed = {_squeeze(w): w for w in singles}
    by_length: dict[int, list[str]] = {}
    for w in singles:
        by_length.setdefault(len(w), []).append(w)
    sidecar = lexicon_sidecar()
    return Lexicons(
        toxic=frozenset(toxic),
        identity=identity,
        toxic_squeezed=squeezed,
        toxic_by_length={k: tuple(v) for k, v in by_length.items()},
        phrase_starts=frozenset(p[0] for p in (*toxic, *identity) if len(p) > 1),
        max_phrase=max(len(p) for p in (*toxic, *identity)),
        versions={k: v["version"] for k, v in sidecar["files"].items()},
        toxic_words=frozenset(singles),
        identity_words={p[0]: g for p, g in identity.items() if len(p) == 1},
        listed=frozenset(p[0] for p in (*toxic, *identity)),
    )


def _plain(word: str) -> str:
    """Lowercase without accents."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words_of(text: str) -> list[str]:
    """Lowercased, accent-free words with edge punctuation stripped (leet marks kept)."""
    if text.isascii():  # most text: lowercasing first is the same, and nothing to decompose
        return [w for chunk in _CHUNK.findall(text.lower()) if (w := chunk.strip(".,?'"))]
    out = []
    for chunk in _CHUNK.findall(text):
        w = chunk.strip("'’.,?")
        if w:
            out.append(w.lower() if w.isascii() else _plain(w))
    return out


def _toxic_word(word: str, lex: Lexicons) -> bool:
    """Whether one word is a toxic term, seen through leetspeak, separators, elongation and
    masking asterisks."""
    if word.isalpha():  # fast path: plain letters need no leet or separator handling
        return (word,) in lex.toxic or (
            _RUN3.search(word) is not None and _squeeze(word) in lex.toxic_squeezed
        )
    candidates = [word, word.strip(_EDGE)]
    if _SEPARATED.match(word):
        candidates.append(re.sub(r"[.\-_*]", "", word))
    for cand in candidates:
        if not cand:
            continue
        if any(c.isdigit() for c in cand) and not any(c.isalpha() for c in cand):
            continue  # a number, not leetspeak
        forms = {cand, cand.translate(_LEET)}
        for form in forms:
            if (form,) in lex.toxic:
                return True
            if _RUN3.search(form) and _squeeze(form) in lex.toxic_squeezed:
                return True
            if "*" in form and any(c.isalpha() for c in form) and _masked(form, lex):
                return True
    return False


def _masked(form: str, lex: Lexicons) -> bool:
    for term in lex.toxic_by_length.get(len(form), ()):
        if all(a == b or a == "*" for a, b in zip(form, term, strict=True)):
            return True
    return False


@dataclasses.dataclass(frozen=True)
class BiasScan:
    """Per-record result: toxic hits (word positions), identity mentions per group, words."""

    words: int
    toxic_positions: tuple[int, ...]
    identity_counts: Mapping[str, int]
    identity_positions: tuple[int, ...]


def _spaced_runs(words: Sequence[str]) -> dict[int, int]:
    """Spaced letters ("f u c k"): start -> end of every run of three or more one-letter
    words (digits excluded)."""
    spaced: dict[int, int] = {}
    start = end = -1
    for i in [i for i, w in enumerate(words) if len(w) == 1 and not w.isdigit()]:
        if i != end:  # a new run starts
            if end - start >= 3:
                spaced[start] = end
            start = i
        end = i + 1
    if end - start >= 3:
        spaced[start] = end
    return spaced


@dataclasses.dataclass
class _Tally:
    toxic: list[int]
    ident_pos: list[int]
    counts: dict[str, int]
    covered: dict[str, int]  # per group: words before this index are counted

    def identity(self, group: str, i: int, size: int = 1) -> None:
        if self.covered[group] <= i:
            self.counts[group] += 1
            self.ident_pos.append(i)
            if size > 1:
                self.covered[group] = i + size  # "african american" is one mention


def _phrases_at(words: Sequence[str], i: int, lex: Lexicons, tally: _Tally) -> None:
    for size in range(min(lex.max_phrase, len(words) - i), 1, -1):
        phrase = tuple(words[i : i + size])
        if phrase in lex.toxic:
            tally.toxic.append(i)
        group = lex.identity.get(phrase)
        if group is not None:
            tally.identity(group, i, size)


def scan(text: str, lex: Lexicons) -> BiasScan:
    """Find toxic terms and identity terms in ``text`` (whole words, phrases included)."""
    words = words_of(text)
    n = len(words)
    tally = _Tally([], [], dict.fromkeys(GROUPS, 0), dict.fromkeys(GROUPS, 0))
    spaced = _spaced_runs(words)
    # A plain word is toxic only when listed or when it holds a run of three letters
    # (elongation); no word does when the words joined by spaces hold no run.
    runs = _RUN3.search(" ".join(words)) is not None
    toxic_words, identity_words, starts = lex.toxic_words, lex.identity_words, lex.phrase_starts
    # Most words are none of these: not listed, plain letters with no run of three, no spaced
    # run starting there. Such a word changes nothing below, so only the others are visited,
    # in order (a spaced run's words are skipped as before).
    listed = lex.listed
    ran = {w for w in set(words) if _RUN3.search(w)} if runs else set()
    visit = [
        i for i, w in enumerate(words) if w in listed or w in ran or i in spaced or not w.isalpha()
    ]
    toxic_memo: dict[str, bool] = {}
    nxt = 0
    for i in visit:
        if i < nxt:
            continue  # inside a spaced run counted as one term
        nxt = i + 1
        end = spaced.get(i)
        if end is not None and _toxic_word("".join(words[i:end]), lex):
            tally.toxic.append(i)
            nxt = end
            continue
        w = words[i]
        if w in starts:
            _phrases_at(words, i, lex, tally)
        group = identity_words.get(w)
        if group is not None:
            tally.identity(group, i)
        elif w in toxic_words:
            tally.toxic.append(i)
        elif runs or not w.isalpha():
            toxic = toxic_memo.get(w)
            if toxic is None:
                toxic = toxic_memo[w] = _toxic_word(w, lex)
            if toxic:
                tally.toxic.append(i)
    return BiasScan(n, tuple(tally.toxic), tally.counts, tuple(tally.ident_pos))


def identity_counts(text: str, lex: Lexicons) -> dict[str, int]:
    """Mentions per identity group in ``text``."""
    return dict(scan(text, lex).identity_counts)


def cooccurrences(s: BiasScan, window: int) -> int:
    """Toxic terms with an identity term within ``window`` words on either side."""
    if not s.toxic_positions or not s.identity_positions:
        return 0
    ident = s.identity_positions
    return sum(1 for t in s.toxic_positions if any(abs(t - p) <= window for p in ident))


def bias_signals(text: str, lex: Lexicons, window: int) -> dict[str, float]:
    """The record's bias signals: ``toxicity_terms``, ``toxicity_score`` (toxic terms per
    word), ``toxic_identity_cooccurrences`` and ``identity_<group>`` mention counts."""
    s = scan(text, lex)
    out = {
        "toxicity_terms": float(len(s.toxic_positions)),
        "toxicity_score": len(s.toxic_positions) / s.words if s.words else 0.0,
        "toxic_identity_cooccurrences": float(cooccurrences(s, window)),
    }
    for g in GROUPS:
        out[f"identity_{g}"] = float(s.identity_counts[g])
    return out


@dataclasses.dataclass(frozen=True)
class TurnBias:
    """The bias counts of one turn of a conversation (numbers only)."""

    turn: int
    role: str
    words: int
    toxicity_terms: int
    toxicity_score: float
    cooccurrences: int
    identity_counts: Mapping[str, int]


def turn_bias(turns: Sequence[Turn], lex: Lexicons, window: int) -> list[TurnBias]:
    """Scan each turn of a conversation on its own, in turn order."""
    out = []
    for i, t in enumerate(turns):
        s = scan(t.content, lex)
        toxic = len(s.toxic_positions)
        out.append(
            TurnBias(
                turn=i,
                role=t.role,
                words=s.words,
                toxicity_terms=toxic,
                toxicity_score=toxic / s.words if s.words else 0.0,
                cooccurrences=cooccurrences(s, window),
                identity_counts=dict(s.identity_counts),
            )
        )
    return out


def chat_bias_signals(turns: Sequence[TurnBias]) -> dict[str, float]:
    """A conversation's ``bias_signals`` from its turns: ``toxicity_terms``,
    ``toxic_identity_cooccurrences`` and ``identity_<group>`` summed over the turns, and
    ``toxicity_score`` the highest turn score (so ``decide`` flags a conversation when any
    one turn is over the threshold)."""
    out = {
        "toxicity_terms": float(sum(t.toxicity_terms for t in turns)),
        "toxicity_score": max((t.toxicity_score for t in turns), default=0.0),
        "toxic_identity_cooccurrences": float(sum(t.cooccurrences for t in turns)),
    }
    for g in GROUPS:
        out[f"identity_{g}"] = float(sum(t.identity_counts[g] for t in turns))
    return out


def deciding_turn(turns: Sequence[TurnBias], reason: str, rules: BiasRules) -> TurnBias | None:
    """The turn behind a conversation's drop: for ``toxic_content`` the first turn over the
    toxicity threshold; for ``toxic_identity_cooccurrence`` the turn at which the
    co-occurrences counted so far reach ``min_cooccurrences``."""
    seen = 0
    for t in turns:
        if reason == "toxic_content" and t.toxicity_score > rules.toxicity_threshold:
            return t
        seen += t.cooccurrences
        if (
            reason == "toxic_identity_cooccurrence"
            and t.cooccurrences
            and (seen >= rules.min_cooccurrences)
        ):
            return t
    return None


@dataclasses.dataclass(frozen=True)
class BiasDecision:
    """``toxic``: the score is above the threshold (a flag, kept as ``toxicity_flag``);
    ``near``: enough toxic terms near identity terms; ``reason``: the drop reason, if the
    recipe asks to drop such records (``toxic_content``, ``toxic_identity_cooccurrence``)."""

    toxic: bool
    near: bool
    reason: str | None


@dataclasses.dataclass(frozen=True)
class BiasRules:
    """The recipe's ``bias`` thresholds (``thresher.stages.bias`` maps the section here)."""

    toxicity_threshold: float
    drop_toxic: bool
    min_cooccurrences: int
    drop_identity_toxic: bool


def decide(signals: Mapping[str, float], rules: BiasRules) -> BiasDecision:
    """Apply the recipe's ``bias`` thresholds to a record's ``bias_signals``."""
    toxic = signals["toxicity_score"] > rules.toxicity_threshold
    near = signals["toxic_identity_cooccurrences"] >= rules.min_cooccurrences
    reason = None
    if rules.drop_toxic and toxic:
        reason = "toxic_content"
    elif rules.drop_identity_toxic and near:
        reason = "toxic_identity_cooccurrence"
    return BiasDecision(toxic, near, reason)


def groups_mentioned(signals: Mapping[str, float]) -> tuple[str, ...]:
    """The identity groups with at least one mention, from ``identity_<group>`` signals."""
    return tuple(g for g in GROUPS if signals.get(f"identity_{g}", 0) > 0)


# --- disparity --------------------------------------------------------------------------------

PREFIX = "bias.filter."


def filter_keys(name: str, groups: Iterable[str], removed: bool) -> list[str]:
    """The stats keys one record contributes to filter ``name``: it reached the filter (and
    was removed by it), overall and for each identity group it mentions. Summed over all
    records, they give every count ``disparity_report`` needs."""
    base = f"{PREFIX}{name}"
    keys = [f"{base}.records"]
    if removed:
        keys.append(f"{base}.removed")
    for g in groups:
        keys.append(f"{base}.group.{g}.records")
        if removed:
            keys.append(f"{base}.group.{g}.removed")
    return keys


def wilson_lower(removed: int, records: int, confidence: float) -> float:
    """Lower end of the Wilson score interval of a proportion (Wilson 1927): a removal rate
    the group's true rate is, at ``confidence``, at least. 0 when there are no records or
    ``confidence`` is 0 (the check is off)."""
    if records == 0 or removed == 0 or confidence <= 0:
        return 0.0
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    p = removed / records
    denom = 1 + z * z / records
    centre = p + z * z / (2 * records)
    margin = z * math.sqrt(p * (1 - p) / records + z * z / (4 * records * records))
    return max(0.0, (centre - margin) / denom)


def disparity_report(
    stats: Mapping[str, float], bound: float, min_group_size: int, confidence: float = 0.95
) -> dict[str, Any]:
    """Per filter: overall removal rate, and per group its removal rate and its ratio to the
    overall rate. A group is flagged when the ratio exceeds ``bound``, at least
    ``min_group_size`` records of the group reached the filter, and the difference is not
    chance: the lower end of the group rate's Wilson interval at ``confidence`` is above the
    overall rate (``significant``; a single removal in a large group is never flagged).
    ``confidence`` 0 turns that check off.

    Ratio when the overall rate is 0: ``None`` (nothing removed, nothing to compare).
    """
    filters: dict[str, dict[str, Any]] = {}
    for key, value in stats.items():
        if not key.startswith(PREFIX):
            continue
        name, _, rest = key[len(PREFIX) :].partition(".")
        entry = filters.setdefault(name, {"records": 0, "removed": 0, "groups": {}})
        if rest in ("records", "removed"):
            entry[rest] += int(value)
        elif rest.startswith("group."):
            group, _, what = rest[len("group.") :].rpartition(".")
            g = entry["groups"].setdefault(group, {"records": 0, "removed": 0})
            g[what] += int(value)
    flagged: list[dict[str, Any]] = []
    for name in sorted(filters):
        entry = filters[name]
        overall = entry["removed"] / entry["records"] if entry["records"] else 0.0
        entry["removal_rate"] = round(overall, 6)
        groups = {}
        for group in sorted(entry["groups"]):
            g = entry["groups"][group]
            rate = g["removed"] / g["records"] if g["records"] else 0.0
            ratio = rate / overall if overall else None
            lower = wilson_lower(g["removed"], g["records"], confidence)
            significant = bool(overall) and (confidence <= 0 or lower > overall)
            is_flagged = bool(
                ratio is not None
                and ratio > bound
                and g["records"] >= min_group_size
                and significant
            )
            g.update(
                removal_rate=round(rate, 6),
                rate_lower=round(lower, 6),
                ratio=None if ratio is None else round(ratio, 6),
                significant=significant,
                flagged=is_flagged,
            )
            groups[group] = g
            if is_flagged:
                flagged.append(
                    {"filter": name, "group": group, "ratio": g["ratio"], "records": g["records"]}
                )
        entry["groups"] = groups
    return {
        "bound": bound,
        "min_group_size": min_group_size,
        "confidence": confidence,
        "filters": dict(sorted(filters.items())),
        "flagged": flagged,
    }


OUTPUT_PREFIX = "bias.output."


def output_keys(signals: Mapping[str, float], toxic: bool) -> list[str]:
    """Stats keys of one record leaving FlagBias: representation of the groups it mentions."""
    keys = [f"{OUTPUT_PREFIX}records"]
    if toxic:
        keys.append(f"{OUTPUT_PREFIX}toxic_records")
    for g in groups_mentioned(signals):
        keys.append(f"{OUTPUT_PREFIX}group.{g}.records")
    return keys


def representation_report(stats: Mapping[str, float]) -> dict[str, Any]:
    """Share of kept records (after FlagBias) mentioning each group, and toxic records."""
    records = int(stats.get(f"{OUTPUT_PREFIX}records", 0))
    groups = {}
    for g in GROUPS:
        n = int(stats.get(f"{OUTPUT_PREFIX}group.{g}.records", 0))
        groups[g] = {"records": n, "share": round(n / records, 6) if records else 0.0}
    toxic = int(stats.get(f"{OUTPUT_PREFIX}toxic_records", 0))
    return {
        "records": records,
        "toxic_records": toxic,
        "toxic_share": round(toxic / records, 6) if records else 0.0,
        "groups": groups,
    }


ROLE_PREFIX = "bias.role."
ROLE_COUNTS: tuple[str, ...] = ("turns", "toxic_turns", "toxicity_terms", "identity_terms")


def role_keys(turns: Sequence[TurnBias], toxicity_threshold: float) -> Counter[str]:
    """Stats counts of one conversation leaving FlagBias, per role: ``turns``, ``toxic_turns``
    (score over the threshold), ``toxicity_terms``, ``identity_terms`` (mentions of any
    group) and ``group.<group>.turns`` (turns mentioning the group). Summed over records
    (``Counter`` addition), they give ``role_report``."""
    keys: Counter[str] = Counter()
    for t in turns:
        base = f"{ROLE_PREFIX}{t.role}."
        keys[base + "turns"] += 1
        if t.toxicity_score > toxicity_threshold:
            keys[base + "toxic_turns"] += 1
        if t.toxicity_terms:
            keys[base + "toxicity_terms"] += t.toxicity_terms
        mentions = sum(t.identity_counts.values())
        if mentions:
            keys[base + "identity_terms"] += mentions
        for g in GROUPS:
            if t.identity_counts.get(g):
                keys[f"{base}group.{g}.turns"] += 1
    return keys


def role_report(stats: Mapping[str, float]) -> dict[str, Any]:
    """Per role present in the kept conversations: its turns, toxic turns and their share,
    toxic terms, identity terms, and per group the turns mentioning it and their share."""
    roles: dict[str, Any] = {}
    for role in ROLES:
        base = f"{ROLE_PREFIX}{role}."
        turns = int(stats.get(base + "turns", 0))
        if not turns:
            continue
        entry: dict[str, Any] = {name: int(stats.get(base + name, 0)) for name in ROLE_COUNTS}
        entry["toxic_share"] = round(entry["toxic_turns"] / turns, 6)
        groups = {}
        for g in GROUPS:
            n = int(stats.get(f"{base}group.{g}.turns", 0))
            groups[g] = {"turns": n, "share": round(n / turns, 6)}
        entry["groups"] = groups
        roles[role] = entry
    return roles


def bias_section(
    stats: Mapping[str, float],
    bound: float,
    min_group_size: int,
    confidence: float,
    lexicons: Sequence[str] = (),
) -> dict[str, Any]:
    """The manifest's ``bias`` section from the run's summed stats."""
    section: dict[str, Any] = {
        "disparity": disparity_report(stats, bound, min_group_size, confidence)
    }
    if any(k.startswith(OUTPUT_PREFIX) for k in stats):
        section["representation"] = representation_report(stats)
    if any(k.startswith(ROLE_PREFIX) for k in stats):
        section["roles"] = role_report(stats)
    section["lexicons"] = {name: lexicon_sidecar()["files"][name]["version"] for name in lexicons}
    return section
