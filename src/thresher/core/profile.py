"""Bucketing for the run profile: histograms kept as ``(key, count)`` statistics.

Bucket labels are fixed strings so that counts from every worker sum into the same keys, and the
number of keys stays small whatever the corpus size.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from thresher.core import statkeys

# Character-length buckets: powers of two, 2^4 .. 2^24 (16 characters .. 16 M).
_LEN_EDGES = [2**k for k in range(4, 25)]


def length_bucket(chars: int) -> str:
    """The upper edge of ``chars``'s bucket, zero-padded so buckets sort as strings too."""
    for edge in _LEN_EDGES:
        if chars < edge:
            return f"{edge:09d}"
    return f"{2**25:09d}"


def value_bucket(value: float) -> str:
    """Ten equal bins on [0, 1] for ratio-like signals; powers of two above 1; one for < 0."""
    if math.isnan(value):
        return "nan"
    if value < 0:
        return "neg"
    if value <= 1:
        return f"{min(int(value * 10), 9) / 10:.1f}"
    return f"2^{math.ceil(math.log2(value)):02d}"


def size_bucket(size: int) -> str:
    """Cluster sizes: exact up to 10, then powers of two."""
    if size <= 10:
        return f"{size:06d}"
    return f"{2 ** math.ceil(math.log2(size)):06d}"


def signal_stats(phase: str, signals: Mapping[str, float]) -> Iterable[tuple[str, int]]:
    for name, value in signals.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            yield statkeys.signal(name, phase, value_bucket(float(value))), 1
