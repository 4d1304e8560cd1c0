"""Shingles, MinHash signatures and LSH band keys for near-duplicate detection.

Signatures come from ``datasketch`` (2.0, ``affine32`` scheme) on its batch fast path: one
template ``MinHash`` holds the seeded permutations, each document is ``copy()`` +
``update_batch()`` of its shingles (what ``MinHash.bulk``/``MinHash.generator`` do inside),
and the shingle hash is 32-bit xxhash seeded from the recipe instead of datasketch's default
SHA-1. Everything is a pure function of (text, parameters): every worker and every run agrees.

Band keys follow the banding technique of Leskovec, Rajaraman & Ullman, *Mining of Massive
Datasets*, ch. 3: ``bands`` groups of ``rows`` consecutive signature values; two documents are
candidates when any band is equal. Bands and rows default to datasketch's own optimizer
(``datasketch.lsh._optimal_param``, equal weights on false positives and negatives).

``datasketch`` imports SciPy's integrators (``scipy.integrate``, with ``scipy.special`` and
``scipy.optimize``: about 0.35 s) for that optimizer alone, which computing signatures never
calls. So this module imports it with ``scipy.integrate`` standing in as a module whose
``quad`` imports the real one on its first call: a worker that only computes signatures (and
the warm server that forks the workers) skips the import, and the optimizer gets SciPy's own
``quad``.
"""

from __future__ import annotations

import contextlib
import functools
import re
import struct
import sys
import types
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xxhash

from thresher.errors import ConfigError


@contextlib.contextmanager
def _integrators_on_first_use() -> Iterator[None]:
    """``scipy.integrate`` as a stand-in for the block, unless it is loaded already: its
    ``quad`` imports SciPy's on first use and calls it. The stand-in leaves ``sys.modules``
    afterwards, so any later import gets the real module."""
    if "scipy.integrate" in sys.modules:
        yield
        return

    def quad(*args: Any, **kwargs: Any) -> Any:
        from scipy.integrate import quad as scipy_quad  # the real module, once outside the block

        return scipy_quad(*args, **kwargs)

    stand_in = types.ModuleType("scipy.integrate")
    stand_in.quad = quad  # type: ignore[attr-defined]
    sys.modules["scipy.integrate"] = stand_in
    try:
        yield
    finally:
        if sys.modules.get("scipy.integrate") is stand_in:
            del sys.modules["scipy.integrate"]


with _integrators_on_first_use():
    from datasketch import LeanMinHash, MinHash
    from datasketch.lsh import _optimal_param

ShingleKind = Literal["word", "char"]
# Bumped when shingling, hashing or band-key layout changes: indexes written with another
# version cannot be compared with new signatures (datasketch 2.0 did the same to its scheme).
SIGNATURE_VERSION = 1
SIGNATURE_DTYPE = np.dtype("<u4")
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The normalized word sequence shingles are built from: case folded, ``\\w+`` runs only
    (punctuation and whitespace differences never matter)."""
    return _WORD.findall(text.casefold())


def shingles(text: str, ngram: int = 5, kind: ShingleKind = "word") -> list[bytes]:
    """The shingle set of ``text`` as UTF-8 byte strings (duplicates kept; MinHash ignores them).

    ``word``: ``ngram`` consecutive words. ``char``: ``ngram`` consecutive characters of the
    words joined by one space, for scripts written without spaces (Chinese, Japanese, Thai).
    A text shorter than ``ngram`` units is one shingle of all of it; a text with no word
    characters has no shingles (it cannot be a near duplicate of anything).

    >>> shingles("The cat sat.", ngram=2)
    [b'the cat', b'cat sat']
    """
    toks = words(text)
    if not toks:
        return []
    if kind == "char":
        flat = " ".join(toks)
        if len(flat) <= ngram:
            return [flat.encode("utf-8")]
        return [flat[i : i + ngram].encode("utf-8") for i in range(len(flat) - ngram + 1)]
    if len(toks) <= ngram:
        return [" ".join(toks).encode("utf-8")]
    return [" ".join(toks[i : i + ngram]).encode("utf-8") for i in range(len(toks) - ngram + 1)]


# Weights of false positives and false negatives for datasketch's optimizer. Unverified
# candidates are taken as duplicates, so both errors cost the same (datasketch's MinHashLSH
# default). Verified candidates cost a false positive only a signature comparison, so a missed
# pair weighs 9 times more: at 0.8 and 128 permutations (14, 9) instead of (9, 13), which on
# benchmarks/bench_near_dedup.py's corpus lifts document-level F1 from 0.915 to 0.956.
WEIGHTS_UNVERIFIED = (0.5, 0.5)
WEIGHTS_VERIFIED = (0.1, 0.9)


def optimal_bands(threshold: float, num_perm: int, verify: bool = False) -> tuple[int, int]:
    """(bands, rows) minimizing the weighted false-positive and false-negative probability,
    from datasketch's own optimizer (``datasketch.lsh._optimal_param``). Unverified: (9, 13)
    at 0.8 and (5, 25) at 0.9 for 128 permutations; verified: (14, 9) and (8, 16)."""
    fp, fn = WEIGHTS_VERIFIED if verify else WEIGHTS_UNVERIFIED
    bands, rows = _optimal_param(threshold, num_perm, fp, fn)
    return int(bands), int(rows)


@dataclass(frozen=True)
class LshParams:
    """Everything that decides a signature and its band keys. Two runs can compare
    signatures only when these are equal (``compatible``)."""

    num_perm: int = 128
    ngram: int = 5
    shingle: ShingleKind = "word"
    bands: int = 9
    rows: int = 13
    seed: int = 1
    version: int = SIGNATURE_VERSION

    @classmethod
    def build(
        cls,
        threshold: float = 0.8,
        num_perm: int = 128,
        ngram: int = 5,
        shingle: ShingleKind = "word",
        bands: int | None = None,
        rows: int | None = None,
        seed: int = 1,
        verify: bool = True,
    ) -> LshParams:
        if (bands is None) != (rows is None):
            raise ConfigError(
                f"dedup.near.bands={bands!r} and dedup.near.rows={rows!r}: set both or neither "
                "(neither: chosen from dedup.near.threshold by datasketch's optimizer)"
            )
        if bands is None or rows is None:
            bands, rows = optimal_bands(threshold, num_perm, verify)
        if bands * rows > num_perm:
            raise ConfigError(
                f"dedup.near.bands={bands} x dedup.near.rows={rows} = {bands * rows} exceeds "
                f"dedup.near.num_perm={num_perm}; lower bands or rows, or raise num_perm"
            )
        return cls(num_perm, ngram, shingle, bands, rows, seed)

    def as_dict(self) -> dict[str, int | str]:
        return {
            "num_perm": self.num_perm,
            "ngram": self.ngram,
            "shingle": self.shingle,
            "bands": self.bands,
            "rows": self.rows,
            "seed": self.seed,
            "version": self.version,
        }


class MinHasher:
    """Signatures and band keys for one ``LshParams``. Picklable; the datasketch template is
    built lazily on first use (so a DoFn holding one ships only the parameters)."""

    def __init__(self, params: LshParams) -> None:
        self.params = params
        self._template: MinHash | None = None

    def __getstate__(self) -> dict[str, object]:
        return {"params": self.params, "_template": None}

    def _kwargs(self) -> dict[str, object]:
        return {
            "num_perm": self.params.num_perm,
            "seed": self.params.seed,
            "hashfunc": functools.partial(xxhash.xxh32_intdigest, seed=self.params.seed),
            "scheme": "affine32",
        }

    def template(self) -> MinHash:
        if self._template is None:
            self._template = MinHash(**self._kwargs())
        return self._template

    def shingles(self, text: str) -> list[bytes]:
        return shingles(text, self.params.ngram, self.params.shingle)

    def signature(self, text: str) -> np.ndarray | None:
        """The ``num_perm`` uint32 MinHash values of ``text``; ``None`` when it has no shingles."""
        sh = self.shingles(text)
        if not sh:
            return None
        m = self.template().copy()
        m.update_batch(sh)
        return np.asarray(m.hashvalues, dtype=SIGNATURE_DTYPE)

    def signatures(self, texts: Iterable[str]) -> list[np.ndarray | None]:
        """Batch form through ``MinHash.bulk``; equal to ``signature`` element by element."""
        sets = [self.shingles(t) for t in texts]
        present = [s for s in sets if s]
        bulk = iter(MinHash.bulk(present, **self._kwargs()))
        return [
            np.asarray(next(bulk).hashvalues, dtype=SIGNATURE_DTYPE) if s else None for s in sets
        ]

    def lean(self, signature: np.ndarray) -> LeanMinHash:
        """A datasketch ``LeanMinHash`` of a signature, for callers that want its API."""
        m = MinHash(
            seed=self.params.seed,
            hashvalues=signature,
            permutations=self.template().permutations,
            scheme="affine32",
        )
        return LeanMinHash(m)

    def band_keys(self, signature: np.ndarray) -> list[bytes]:
        """One key per band: 2 bytes of band index + 8 bytes of xxh3 of the band's values.

        The band index keeps equal values in different bands apart; 64 bits of hash make a
        chance collision between different bands negligible (and verification catches it).
        """
        rows = self.params.rows
        raw = np.ascontiguousarray(signature, dtype=SIGNATURE_DTYPE).tobytes()
        width = rows * SIGNATURE_DTYPE.itemsize
        return [
            struct.pack(">H", b) + xxhash.xxh3_64_digest(raw[b * width : (b + 1) * width])
            for b in range(self.params.bands)
        ]


def to_bytes(signature: np.ndarray) -> bytes:
    return np.ascontiguousarray(signature, dtype=SIGNATURE_DTYPE).tobytes()


def from_bytes(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype=SIGNATURE_DTYPE)


def jaccard(a: np.ndarray | bytes, b: np.ndarray | bytes) -> float:
    """Estimated Jaccard similarity: the fraction of equal signature positions."""
    x = from_bytes(a) if isinstance(a, bytes) else a
    y = from_bytes(b) if isinstance(b, bytes) else b
    return float(np.count_nonzero(x == y)) / float(len(x))


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """P(two documents of Jaccard ``similarity`` share at least one band) = 1-(1-s^r)^b."""
    return 1.0 - (1.0 - similarity**rows) ** bands


def similarities_to(matrix: np.ndarray, row: int, others: Sequence[int] | slice) -> np.ndarray:
    """Estimated Jaccard of ``matrix[row]`` against ``matrix[others]`` (vectorized)."""
    return (matrix[others] == matrix[row]).mean(axis=1)
