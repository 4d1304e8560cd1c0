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
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import xxhash

from thresher.core.statkeys import per_run

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


class _WordCache(dict[bytes, int]):
    """Word -> its hash, remembering the first ``_WORD_CACHE_MAX`` distinct words: a lookup of
    a known word stays in C, a new one is hashed by ``__missing__``."""

    def __missing__(self, word: bytes) -> int:
        h = xxhash.xxh3_64_intdigest(word, WORD_SEED)
        if len(self) < _WORD_CACHE_MAX:
            self[word] = h
        return h


_WORD_CACHE = _WordCache()
_WORD_CACHE_MAX = 1 << 20  # distinct words remembered per process (~100 MB at most)


def word_hashes(words: Sequence[bytes]) -> np.ndarray:
    """xxh3-64 of each word (seeded), as ``uint64``. Words repeat (Zipf), so each process
    remembers the hashes of the first million distinct words it sees: a pure function of the
    word, so the cache never changes a result."""
    return np.fromiter(map(_WORD_CACHE.__getitem__, words), np.uint64, len(words))


_INVERSE = pow(int(_PRIME), -1, 1 << 64)  # P is odd, so it has an inverse mod 2^64
_POWERS: np.ndarray = np.ones(1, dtype=np.uint64)  # P^t, t = 0 .. len - 1 (grown on demand)
_INVERSES: np.ndarray = np.ones(1, dtype=np.uint64)  # P^-t


def _powers(length: int) -> tuple[np.ndarray, np.ndarray]:
    """``P^t`` and ``P^-t`` mod 2^64 for ``t < length`` (at least): cached, grown by doubling."""
    global _POWERS, _INVERSES
    if len(_POWERS) < length:
        size = 1 << max(10, (length - 1).bit_length())
        _POWERS, _INVERSES = (
            np.cumprod(np.append(np.uint64(1), np.full(size - 1, x, np.uint64)))  # wraps
            for x in (_PRIME, np.uint64(_INVERSE))
        )
    return _POWERS, _INVERSES


def ngram_hashes(hashes: np.ndarray, n: int) -> np.ndarray:
    """One ``uint64`` per run of ``n`` consecutive word hashes (none when fewer than ``n``).

    ``sum(h[i+j] * P^(n-1-j)) mod 2^64`` followed by MurmurHash3's fmix64, so every bit of the
    result depends on every word. Computed with prefix sums, since P is invertible mod 2^64:
    ``sum(h[i+j] P^(n-1-j)) = P^(n-1+i) * (S[i+n] - S[i])`` with ``S[k] = sum(h[t] P^-t, t < k)``
    (a fixed number of array operations, whatever ``n``; uint64 arithmetic wraps, as intended).
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    length = len(hashes)
    if length < n:
        return np.empty(0, dtype=np.uint64)
    powers, inverses = _powers(length + n)
    prefix = np.empty(length + 1, dtype=np.uint64)
    prefix[0] = 0
    np.cumsum(hashes * inverses[:length], out=prefix[1:])
    acc = prefix[n:] - prefix[: length - n + 1]
    acc *= powers[n - 1 : length]
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


def _segment_words(text: str, by_line: bool) -> tuple[list[bytes], list[list[bytes]]]:
    """The words of a segment and, when ``by_line`` and it has several lines, of each line
    (NFKC never joins characters across a newline, so a line's words are ``match_tokens`` of
    the line)."""
    if not by_line or "\n" not in text:
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
        words, lines = _segment_words(text, wholes)
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
    if len(grams) == 1:  # a text record: nothing to join
        return RecordKeys(grams[0], turns[0], tuple(sorted(set(whole_keys))))
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

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The index as plain arrays (``from_arrays`` restores it): what ``np.savez`` stores,
        with no pickled object."""
        whole = sorted(self._whole.items())
        names = json.dumps([[r.benchmark, r.item_id] for r in self.refs]).encode("utf-8")
        return {
            "n": np.array([self.n, self._bits_shift], dtype=np.int64),
            "refs": np.frombuffer(names, dtype=np.uint8),
            "ref_ngrams": np.array([r.ngrams for r in self.refs], dtype=np.int64),
            "keys": self._keys,
            "postings": self._postings,
            "offsets": self._offsets,
            "bits": self._bits,
            "whole_keys": np.array([k for k, _ in whole], dtype=np.uint64),
            "whole_sizes": np.array([len(v) for _, v in whole], dtype=np.int64),
            "whole_owners": np.array([o for _, v in whole for o in v], dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, a: Mapping[str, np.ndarray]) -> BenchmarkIndex:
        index = cls.__new__(cls)
        index.n, index._bits_shift = (int(x) for x in a["n"])
        names = json.loads(a["refs"].tobytes().decode("utf-8"))
        index.refs = tuple(
            ItemRef(b, i, c) for (b, i), c in zip(names, a["ref_ngrams"].tolist(), strict=True)
        )
        index._keys, index._postings = a["keys"], a["postings"]
        index._offsets, index._bits = a["offsets"], a["bits"]
        owners = iter(a["whole_owners"].tolist())
        index._whole = {
            k: tuple(next(owners) for _ in range(size))
            for k, size in zip(a["whole_keys"].tolist(), a["whole_sizes"].tolist(), strict=True)
        }
        return index

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
            near = q[cand]
            pos = np.searchsorted(self._keys, near)
            pos[pos == len(self._keys)] = 0
            found = self._keys[pos] == near
            if found.any():  # most records: none (a few bitmap false positives at most)
                turns = keys.ngram_turns[cand][found].tolist()
                for p, key, turn in zip(
                    pos[found].tolist(), near[found].tolist(), turns, strict=True
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
FOUND = "found"  # decontamination.<benchmark>.found.<item id>: one key per item found
EXAMPLE_RECORD = "example_record"
EXAMPLES = 5


def section(
    stats: Mapping[str, float], benchmarks: Sequence[str], n: int, action: str
) -> dict[str, Any]:
    """The manifest's ``decontamination`` section from the run's summed stats: per benchmark,
    records dropped (or annotated), items in the benchmark, items found in this corpus, the
    benchmark's contamination rate (found / items), and up to five example record and item ids
    (the smallest). Found items and example records are keys, so summing the stats of a batched
    run's pipelines gives the union; benchmark sizes are per-run (``run.decontamination.``).
    """

    def get(key: str) -> int:
        return int(stats.get(STATS_PREFIX + key, 0))

    def fixed(key: str) -> int:
        return int(stats.get(per_run(STATS_PREFIX + key), 0))

    out: dict[str, Any] = {}
    for name in benchmarks:
        prefix = f"{STATS_PREFIX}{name}."
        ids: dict[str, list[str]] = {FOUND: [], EXAMPLE_RECORD: []}
        for key in stats:
            for kind, found_ids in ids.items():
                if key.startswith(f"{prefix}{kind}."):
                    found_ids.append(key[len(prefix) + len(kind) + 1 :])
        items, found = fixed(f"{name}.items"), len(ids[FOUND])
        out[name] = {
            "items": items,
            "items_found": found,
            "contamination_rate": round(found / items, 6) if items else 0.0,
            "records": get(f"{name}.records"),
            "example_records": sorted(ids[EXAMPLE_RECORD])[:EXAMPLES],
            "example_items": sorted(ids[FOUND])[:EXAMPLES],
        }
    return {
        "ngram": n,
        "action": action,
        "method": "join" if fixed("join") else "side_input",
        "records_checked": get("checked"),
        "records_contaminated": get("contaminated"),
        "index": {"ngrams": fixed("index_ngrams"), "bytes": fixed("index_bytes")},
        "benchmarks": out,
    }
