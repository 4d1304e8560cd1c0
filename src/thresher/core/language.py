"""Language identification with lingua (offline: the models ship in the wheel).

Build one detector per process with ``cached_detector`` (the stage holds it through Beam's
``Shared`` handle, so DoFn instances in one worker process share it) and call ``identify``.
Deterministic: lingua's scores depend on the text only.

Example::

    detector = cached_detector(low_accuracy=True)
    identify(detector, "The cat sat on the mat.", max_chars=10_000)  # ("en", 0.99...)
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from lingua import Language, LanguageDetectorBuilder


def _known() -> set[str]:
    return {lang.iso_code_639_1.name.lower() for lang in Language.all()}


def unknown_codes(codes: Iterable[str]) -> list[str]:
    """The codes in ``codes`` that are not ISO 639-1 codes lingua knows (for config checks)."""
    known = _known()
    return [c for c in codes if not isinstance(c, str) or c.lower() not in known]


def build_detector(low_accuracy: bool = True) -> Any:
    """A lingua detector over every language lingua knows.

    Detection runs among all languages (not only the targets), so a German text is called
    German instead of the closest target. ``low_accuracy`` uses trigram models only: about
    70 MB per process against about 1 GB, with lingua's documented loss on short texts.
    """
    builder = LanguageDetectorBuilder.from_all_languages()
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    return builder.build()


@functools.cache
def cached_detector(low_accuracy: bool = True) -> Any:
    """``build_detector`` once per process and mode (the detector is thread-safe, read-only)."""
    return build_detector(low_accuracy)


def identify(detector: Any, text: str, max_chars: int) -> tuple[str | None, float]:
    """(ISO 639-1 code, confidence in [0, 1]) of the first ``max_chars`` characters.

    ``(None, 0.0)`` when lingua cannot tell (no letters, e.g. only digits or symbols).
    """
    values = detector.compute_language_confidence_values(text[:max_chars])
    if not values:
        return None, 0.0
    top = values[0]
    if top.value <= 0.0:
        return None, 0.0
    # Rounded: lingua's floating-point sums differ in the last bits between processes, and the
    # output must not depend on which worker scored a record.
    return top.language.iso_code_639_1.name.lower(), round(float(top.value), 6)
