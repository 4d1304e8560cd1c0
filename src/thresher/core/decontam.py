"""Benchmark decontamination: word n-gram overlap between records and evaluation items.

Both sides go through the same matching form (``match_tokens``): Unicode NFKC, case folded,
every run of characters that are not letters or digits is a word break. So an item pasted in
capitals, with doubled spaces or other punctuation, is still the same item.

An item (one benchmark record; its configured fields, a list-valued field giving each element)
is indexed by the 64-bit hashes of its word n-grams (``ngram`` words, never crossing from one
field into the next). An item with no n-gram at all (every field shorter than ``ngram`` words) is
*short*: it is indexed by the hash of its whole matching form (all fields, in order), and only a
whole record segment, a whole line of one, or a user turn followed by its assistant turn with
exactly those words matches it. Short boilerplate shared by a record and a long item never
matches: a long item is found only through a full n-gram.

A record is a sequence of ``(role, text)`` segments: one segment with role ``None`` for a text
record, the turns of a conversation for chat records. Each segment whose role is checked is
matched on its own, plus the n-grams that start in a user turn and end in the assistant turn
right after it (a question split across the prompt and the answer).

Hashes are stable across processes and runs: xxh3-64 of each word with a fixed seed, combined
per n-gram by a polynomial over 64-bit words and a final mix. Results never hold text: an
``Overlap`` names the benchmark, the item id and the numbers.

Example::

    index = BenchmarkIndex([BenchmarkItem("gsm8k", "test.jsonl:1", ("Natalia sold ...",))], 13)
    overlaps = index.match(record_keys([(None, document_text)], 13))
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import xxhash

WORD_SEED = 0x746872657368  # "thresh": word hashes; fixed so every worker and run agree
WHOLE_SEED = 0x6465636F6E74  # "decont": whole-string hashes of short items (another key space)
_PRIME = np.uint64(0x100000001B3)  # FNV-64 prime: odd, so the polynomial is invertible mod 2^64
_MIX = np.uint64(0xFF51AFD7ED558CCD)  # MurmurHash3 fmix64 constant
_WORD = re.compile(r"[^\W_]+")  # letters and digits; punctuation, symbols and "_" break words
CHECKED_ALWAYS = None  # the role of a text record's single segment: always checked
USER, ASSISTANT = "user", "assistant"
ALL_ROLES = frozenset({"system", "user", "assistant", "tool"})
MAX_ITEMS_IN_DETAIL = 5  # per benchmark, in a record's lineage details


# Not thresher.core.hashing.fold_text (casefold + strip_punctuation folds the same way, one
# character at a time in Python: ~10x slower on this per-record path) nor core.normalize (its
# ftfy pass is for records, which the Normalize stage already cleaned; benchmark items get NFKC
# here, on both sides).
# ASCII fast path: lower-case letters and digits kept, every other byte a word break. For ASCII
# text this is exactly what the Unicode path gives (NFKC is the identity, casefold is lower,
# and [^\W_] is [A-Za-z0-9]), about eight times faster.
_ASCII_WORDS = bytes(ord(chr(c).lower()) if chr(c).isalnum() else 32 for c in range(128)) + bytes(
    [32] * 128
)


def match_tokens(text: str) -> list[bytes]:
    """The words of ``text`` in matching form, UTF-8 encoded: NFKC, case folded, split at
    anything that is not a letter or a digit. ``"What's 2+2?"`` and ``"WHAT S  2 2"`` give the
    same words."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_WORDS).split()
    return [
        w.encode("utf-8") for w in _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
    ]


def match_words(text: str) -> list[str]:
    """``match_tokens`` as strings (for people and tests)."""
    return [w.decode("utf-8") for w in match_tokens(text)]


_WORD_CACHE: dict[bytes, int] = {}
_WORD_CACHE_MAX = 1 << 20  # distinct words remembered per process (~100 MB at most)


def word_hashes(words: Sequence[bytes]) -> np.ndarray:
    """xxh3-64 of each word (seeded), as ``uint64``. Words repeat (Zipf), so each process
    remembers the hashes of the first million distinct words it sees: a pure function of the
    word, so the cache never changes a result."""
    hashes = list(map(_WORD_CACHE.get, words))
    if None in hashes:
        for i, h in enumerate(hashes):
            if h is None:
                w = words[i]
                hashes[i] = h = xxhash.xxh3_64_intdigest(w, WORD_SEED)
                if len(_WORD_CACHE) < _WORD_CACHE_MAX:
                    _WORD_CACHE[w] = h
    return np.array(hashes, dtype=np.uint64)


@functools.cache
def _power(k: int) -> np.uint64:
    return np.uint64(pow(int(_PRIME), k, 1 << 64))


def ngram_hashes(hashes: np.ndarray, n: int) -> np.ndarray:
    """One ``uint64`` per run of ``n`` consecutive word hashes (none when fewer than ``n``).

    ``sum(h[i+j] * P^(n-1-j)) mod 2^64`` followed by MurmurHash3's fmix64, so every bit of the
    result depends on every word. Vectorised by doubling: runs of 2^k words are combined from
    runs of 2^(k-1), and ``n``'s binary digits joined left to right (about 2 log2(n) array
    operations per text instead of 2n).
    """
    length = len(hashes)
    if length < n:
        return np.empty(0, dtype=np.uint64)
    blocks = [hashes]  # blocks[k][i]: the polynomial of words i .. i + 2^k - 1
    while 1 << len(blocks) <= n:
        half = 1 << (len(blocks) - 1)
        b = blocks[-1]
        blocks.append(b[:-half] * _power(half) + b[half:])  # wraps mod 2^64, as intended
    acc: np.ndarray | None = None
    done = 0
    for k in range(len(blocks) - 1, -1, -1):
        size = 1 << k
        if not n & size:
            continue
        tail = blocks[k][done : done + length - n + 1]
        acc = tail.copy() if acc is None else acc * _power(size) + tail
        done += size
    if acc is None:  # n >= 1, so some binary digit is set
        raise ValueError("n must be at least 1")
    acc ^= acc >> np.uint64(33)
    acc *= _MIX
    acc ^= acc >> np.uint64(33)
    return acc


def whole_hash(words: Sequence[bytes]) -> int:
    """The key of a whole matching form (short items and whole segments or lines)."""
    return xxhash.xxh3_64_intdigest(b" ".join(words), WHOLE_SEED)


@dataclasses.dataclass(frozen=True)
class BenchmarkItem:
    """One evaluation item: its benchmark, its id (the file's id field, else ``file:line``) and
    the texts of its configured fields in order (each element of a list-valued field)."""

    benchmark: str
    item_id: str
    texts: tuple[str, ...]


@dataclasses.dataclass(frozen=True, order=True)
class ItemRef:
    """What a match names: the item and how many distinct n-grams it has (0: a short item,
    matched whole)."""

    benchmark: str
    item_id: str
    ngrams: int


def item_keys(item: BenchmarkItem, n: int) -> tuple[np.ndarray, int | None]:
    """The item's distinct n-gram hashes (sorted), or, for a short item, no n-grams and the
    hash of its whole matching form (``None`` for an item without any word)."""
    tokens = [match_tokens(t) for t in item.texts]
    parts = [ngram_hashes(word_hashes(t), n) for t in tokens]
    grams = np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.uint64)
    if len(grams):
        return grams, None
    words = [w for t in tokens for w in t]
    return grams, (whole_hash(words) if words else None)


def item_entries(item: BenchmarkItem, n: int) -> Iterator[tuple[int, ItemRef]]:
    """``(key, ItemRef)`` for every key of ``item``: the index as join input."""
    grams, whole = item_keys(item, n)
    ref = ItemRef(item.benchmark, item.item_id, len(grams))
    for g in grams.tolist():
        yield g, ref
    if whole is not None:
        yield whole, ref


@dataclasses.dataclass(frozen=True)
class RecordKeys:
    """The keys of one record: n-gram hashes with the segment (turn) each came from, and whole
    matching forms (segments, lines, user+assistant pairs) with theirs. Cross-turn n-grams
    appear once per turn they touch."""

    ngrams: np.ndarray  # uint64
    ngram_turns: np.ndarray  # int64, same length
    wholes: tuple[tuple[int, int], ...]  # (whole hash, turn)

    def pairs(self) -> set[tuple[int, int]]:
        """Every distinct ``(key, turn)``: the record side of the join."""
        out = set(zip(self.ngrams.tolist(), self.ngram_turns.tolist(), strict=True))
        out.update(self.wholes)
        return out


def _segment_words(text: str) -> tuple[list[bytes], list[list[bytes]]]:
    """The words of a segment and, when it has several lines, of each line (NFKC never joins
    characters across a newline, so a line's words are ``match_tokens`` of the line)."""
    if "\n" not in text:
        return match_tokens(text), []
    lines = [match_tokens(line) for line in text.split("\n")]
    return [w for line in lines for w in line], lines


def _wholes(words: list[bytes], lines: list[list[bytes]], turn: int) -> Iterator[tuple[int, int]]:
    if words:
        yield whole_hash(words), turn
    for line in lines:
        if line and len(line) < len(words):
            yield whole_hash(line), turn


def _crossing(prev: list[bytes], words: list[bytes], n: int) -> np.ndarray:
    """N-grams that start in ``prev`` (a user turn) and end in ``words`` (the assistant turn)."""
    tail, head = prev[-(n - 1) :] if n > 1 else [], words[: n - 1]
    if not tail or not head:
        return np.empty(0, dtype=np.uint64)
    # tail and head hold at most n - 1 words each, so every n-gram of the window crosses
    return ngram_hashes(word_hashes(tail + head), n)


def record_keys(
    segments: Sequence[tuple[str | None, str]],
    n: int,
    roles: Iterable[str] = ALL_ROLES,
    wholes: bool = True,
) -> RecordKeys:
    """The keys to look up for a record given as ``(role, text)`` segments.

    A segment is checked when its role is ``None`` (a text record) or in ``roles``. Each
    checked segment gives its n-grams and its whole form (and each line's); a checked user turn
    directly followed by a checked assistant turn also gives the n-grams crossing from one into
    the other and the whole form of the two together. ``wholes=False`` skips the whole forms
    (only short items can match them: a speed-up when the benchmarks have none).
    """
    checked = frozenset(roles)
    grams: list[np.ndarray] = []
    turns: list[np.ndarray] = []
    whole_keys: list[tuple[int, int]] = []
    prev: tuple[str | None, list[bytes]] | None = None
    for turn, (role, text) in enumerate(segments):
        if role is not CHECKED_ALWAYS and role not in checked:
            prev = None
            continue
        words, lines = _segment_words(text)
        g = ngram_hashes(word_hashes(words), n)
        grams.append(g)
        turns.append(np.full(len(g), turn, dtype=np.int64))
        if wholes:
            whole_keys.extend(_wholes(words, lines, turn))
        if prev is not None and prev[0] == USER and role == ASSISTANT:
            cross = _crossing(prev[1], words, n)
            grams += [cross, cross]
            turns += [np.full(len(cross), turn - 1), np.full(len(cross), turn)]
            if wholes and prev[1] and words:
                pair = whole_hash(prev[1] + words)
                whole_keys += [(pair, turn - 1), (pair, turn)]
        prev = (role, words)
    if not grams:
        return RecordKeys(np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64), ())
    return RecordKeys(
        np.concatenate(grams),
        np.concatenate(turns).astype(np.int64),
        tuple(sorted(set(whole_keys))),
    )


@dataclasses.dataclass(frozen=True)
class Overlap:
    """One benchmark item found in one record: never text.

    ``ngrams_matched`` of the item's ``item_ngrams`` distinct n-grams occur in the record
    (``fraction`` = their ratio); a short item (``item_ngrams == 0``) matched whole has
    ``fraction`` 1.0. ``turns``: the segments holding the matched n-grams.
    """

    benchmark: str
    item_id: str
    ngrams_matched: int
    item_ngrams: int
    fraction: float
    turns: tuple[int, ...]

    def detail(self, with_turns: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"item": self.item_id, "fraction": self.fraction}
        if self.item_ngrams:
            out |= {"match": "ngram", "ngrams_matched": self.ngrams_matched}
            out["item_ngrams"] = self.item_ngrams
        else:
            out["match"] = "whole"
        if with_turns:
            out["turns"] = list(self.turns)
        return out


def summarize(hits: Iterable[tuple[ItemRef, int, int]]) -> tuple[Overlap, ...]:
    """``(item, key, turn)`` hits of one record -> one ``Overlap`` per item, sorted by
    benchmark, then highest fraction of the item, then item id. Independent of the hits' order."""
    keys: dict[ItemRef, set[int]] = defaultdict(set)
    turns: dict[ItemRef, set[int]] = defaultdict(set)
    for ref, key, turn in hits:
        keys[ref].add(key)
        turns[ref].add(turn)
    out = []
    for ref, found in keys.items():
        matched = len(found) if ref.ngrams else 0
        fraction = round(matched / ref.ngrams, 4) if ref.ngrams else 1.0
        out.append(
            Overlap(
                ref.benchmark,
                ref.item_id,
                matched,
                ref.ngrams,
                fraction,
                tuple(sorted(turns[ref])),
            )
        )
    return tuple(sorted(out, key=lambda o: (o.benchmark, -o.fraction, o.item_id)))


class BenchmarkIndex:
    """Every item's keys in sorted ``uint64`` arrays, for lookups from one worker.

    Memory: 8 bytes per distinct n-gram, 4 per (n-gram, item) posting, 8 per offset, a bitmap
    of about 4 bytes per n-gram that answers most misses with one memory access, and the item
    table. ``nbytes`` reports the arrays' size. Picklable (numpy arrays and tuples), so Beam can
    ship it as a side input.
    """

    def __init__(self, items: Iterable[BenchmarkItem], n: int) -> None:
        self.n = n
        ordered = sorted(items, key=lambda i: (i.benchmark, i.item_id))
        keys, owners = _all_ngrams(ordered, n)
        counts = np.bincount(owners, minlength=len(ordered)).tolist()
        self.refs = tuple(
            ItemRef(i.benchmark, i.item_id, c) for i, c in zip(ordered, counts, strict=True)
        )
        whole: dict[int, list[int]] = defaultdict(list)
        for idx, item in enumerate(ordered):
            if not counts[idx]:
                w = item_keys(item, n)[1]
                if w is not None:
                    whole[w].append(idx)
        self._postings = owners
        self._keys, starts = np.unique(keys, return_index=True)
        self._offsets = np.append(starts, len(keys)).astype(np.int64)
        self._whole = {k: tuple(v) for k, v in whole.items()}
        self._bits_shift, self._bits = _bitmap(self._keys)

    @property
    def ngrams(self) -> int:
        """Distinct n-gram keys in the index."""
        return len(self._keys)

    @property
    def nbytes(self) -> int:
        arrays = (self._keys, self._postings, self._offsets, self._bits)
        table = sum(len(r.benchmark) + len(r.item_id) + 72 for r in self.refs)
        return sum(a.nbytes for a in arrays) + table + 40 * len(self._whole)

    def hits(self, keys: RecordKeys) -> Iterator[tuple[ItemRef, int, int]]:
        """``(item, key, turn)`` for every record key found in the index."""
        q = keys.ngrams
        if len(q) and len(self._keys):
            b = q >> np.uint64(self._bits_shift)
            maybe = (self._bits[(b >> np.uint64(3)).astype(np.intp)] >> (b & np.uint64(7))) & 1
            cand = np.flatnonzero(maybe)
            pos = np.searchsorted(self._keys, q[cand])
            pos[pos == len(self._keys)] = 0
            found = self._keys[pos] == q[cand]
            for p, key, turn in zip(
                pos[found].tolist(),
                q[cand][found].tolist(),
                keys.ngram_turns[cand][found].tolist(),
                strict=True,
            ):
                for owner in self._postings[self._offsets[p] : self._offsets[p + 1]].tolist():
                    yield self.refs[owner], key, turn
        for key, turn in keys.wholes:
            for owner in self._whole.get(key, ()):
                yield self.refs[owner], key, turn

    def match(self, keys: RecordKeys) -> tuple[Overlap, ...]:
        return summarize(self.hits(keys))


def _all_ngrams(items: Sequence[BenchmarkItem], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Every item's distinct n-gram keys with the item's position, sorted by (key, item): all
    items' words hashed and rolled at once, n-grams crossing a field boundary removed. The
    same keys as ``item_keys`` per item, in a few array operations instead of one per item."""
    tokens: list[bytes] = []
    lengths: list[int] = []
    field_owner: list[int] = []
    for idx, item in enumerate(items):
        for text in item.texts:
            words = match_tokens(text)
            tokens += words
            lengths.append(len(words))
            field_owner.append(idx)
    grams = ngram_hashes(word_hashes(tokens), n)
    field = np.repeat(np.arange(len(lengths)), lengths)
    inside = field[: len(grams)] == field[n - 1 :]
    keys = grams[inside]
    owners = np.asarray(field_owner, dtype=np.int32)[field[: len(grams)][inside]]
    order = np.lexsort((owners, keys))
    keys, owners = keys[order], owners[order]
    new = np.ones(len(keys), dtype=bool)
    new[1:] = (keys[1:] != keys[:-1]) | (owners[1:] != owners[:-1])
    return keys[new], owners[new]


def _bitmap(keys: np.ndarray) -> tuple[int, np.ndarray]:
    """A one-hash membership bitmap of about 32 bits per key (false positives ~3%), indexed by
    the keys' top bits. Returns (shift, bytes)."""
    bits = max(16, int(np.ceil(np.log2(max(1, 32 * len(keys))))))
    shift = 64 - bits
    out = np.zeros(1 << (bits - 3), dtype=np.uint8)
    b = keys >> np.uint64(shift)
    np.bitwise_or.at(
        out,
        (b >> np.uint64(3)).astype(np.intp),
        np.left_shift(1, b & np.uint64(7)).astype(np.uint8),
    )
    return shift, out


def details(overlaps: Sequence[Overlap], n: int, with_turns: bool = False) -> dict[str, Any]:
    """A record's lineage details: per benchmark, how many items matched and the top ones."""
    by_bench: dict[str, list[Overlap]] = defaultdict(list)
    for o in overlaps:
        by_bench[o.benchmark].append(o)
    return {
        "ngram": n,
        "benchmarks": {
            b: {
                "items_matched": len(found),
                "items": [o.detail(with_turns) for o in found[:MAX_ITEMS_IN_DETAIL]],
            }
            for b, found in sorted(by_bench.items())
        },
    }


STATS_PREFIX = "decontamination."


def section(
    stats: Mapping[str, float], benchmarks: Sequence[str], n: int, action: str
) -> dict[str, Any]:
    """The manifest's ``decontamination`` section from the run's summed stats: per benchmark,
    records dropped (or annotated), items in the benchmark, items found in this corpus, the
    benchmark's contamination rate (found / items), and up to five example record and item ids.
    """

    def get(key: str) -> int:
        return int(stats.get(STATS_PREFIX + key, 0))

    out: dict[str, Any] = {}
    for name in benchmarks:
        items, found = get(f"{name}.items"), get(f"{name}.items_found")
        prefix = f"{STATS_PREFIX}{name}."
        examples: dict[str, list[str]] = {"example_record": [], "example_item": []}
        for key in stats:
            for kind, ids in examples.items():
                if key.startswith(f"{prefix}{kind}."):
                    ids.append(key[len(prefix) + len(kind) + 1 :])
        out[name] = {
            "items": items,
            "items_found": found,
            "contamination_rate": round(found / items, 6) if items else 0.0,
            "records": get(f"{name}.records"),
            "example_records": sorted(examples["example_record"]),
            "example_items": sorted(examples["example_item"]),
        }
    return {
        "ngram": n,
        "action": action,
        "method": "join" if get("join") else "side_input",
        "records_checked": get("checked"),
        "records_contaminated": get("contaminated"),
        "index": {"ngrams": get("index_ngrams"), "bytes": get("index_bytes")},
        "benchmarks": out,
    }
