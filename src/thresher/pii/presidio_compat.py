"""Where thresher meets Presidio beyond its public API: loading it, and its NER label mapping.

Two things live here and nowhere else:

- ``load_presidio()``: the one place that first imports Presidio and spaCy. It makes the import
  offline and cheap, so importing ``thresher.pii`` itself has no side effects:

  * ``TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS=""`` (unless the caller set it): ``tldextract``, which
    Presidio's e-mail recognizer imports, reads it once at import and then stays on its bundled
    suffix list instead of fetching one over the network.
  * ``torch`` and ``transformers`` are hidden while Presidio and spaCy import: Presidio imports
    its optional Hugging Face engine eagerly and thinc probes for torch, which with the ``dp``
    extra installed costs about 2 s per worker process for machinery the spaCy pipeline never
    uses. Both import normally afterwards (``thresher finetune`` needs them).

- ``ner_entities_and_scores()``: Presidio's own mapping of spaCy labels onto its entity types
  (``GPE`` -> ``LOCATION``, ``ORG`` ignored, ...) with its default scores. Presidio offers it
  only through the private ``SpacyNlpEngine._get_scores_for_entities`` and
  ``._get_updated_entities``; thresher runs NER itself (on chosen sentences only) and needs the
  same mapping on its own docs. ``tests/pii/test_presidio_compat.py`` checks that this still
  equals what Presidio's public ``process_text`` returns, and fails with a message naming the
  Presidio version when an upgrade changes it.

- ``context_enhancer()``: Presidio's ``LemmaContextAwareEnhancer`` that is handed only the
  results it can change. Presidio's deep-copies every result before it looks at any (on long
  documents most are names and places from recognizers without context words, and the copies
  cost more than the enhancement); the others are returned as they came, in place. It finds
  the token a result starts in by bisection where the artifacts know their tokens' ends
  (``artifacts``); Presidio's walks the doc's tokens one by one for every result.

- ``analyzer_engine_class()``: Presidio's ``AnalyzerEngine`` whose recognizer-level context
  step (``_enhance_using_context``) sorts the results by recognizer once, instead of filtering
  the whole list twice for every recognizer, and calls a recognizer's
  ``enhance_using_context`` only where its class overrides the base one (the base returns its
  results unchanged). Same results in the same order.

- ``artifacts()``: the ``NlpArtifacts`` of a doc thresher ran itself. Presidio's constructor
  works out the keywords of every segment (two vocabulary lookups per token); only the
  context enhancement reads them, for the segments holding a result from a recognizer with
  context words. Here they are worked out on first use, each distinct lemma's verdict kept in
  a memo the caller owns, and they answer ``in`` from a set.

``tests/pii/test_presidio_compat.py`` compares each of these with what Presidio's own gives.

Recognizer modules (``thresher.pii.recognizers``) subclass Presidio classes, so they import
Presidio at import; thresher imports them only after ``load_presidio()``.
"""

from __future__ import annotations

import functools
import os
import sys
from bisect import bisect_right
from collections.abc import Iterable, MutableMapping
from typing import Any

from thresher.errors import ThresherError

_OFFLINE_ENV = {"TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
_HIDDEN_DURING_IMPORT = ("torch", "transformers")
_PRIVATE_API = ("_get_scores_for_entities", "_get_updated_entities")


def load_presidio() -> None:
    """Import Presidio and spaCy offline, with ``torch``/``transformers`` hidden. Idempotent;
    a no-op for the import part when Presidio, spaCy or thinc is already loaded."""
    for name, value in _OFFLINE_ENV.items():
        os.environ.setdefault(name, value)
    if any(m in sys.modules for m in ("presidio_analyzer", "spacy", "thinc")):
        return  # already loaded by someone else: nothing to save
    hidden = [m for m in _HIDDEN_DURING_IMPORT if m not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import presidio_analyzer  # noqa: F401
        import spacy  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


def ner_entities_and_scores(nlp_engine: Any, doc: Any) -> tuple[list[Any], list[float]]:
    """The entities of spaCy ``doc`` as Presidio's ``nlp_engine`` reports them (labels mapped
    through its ``ner_model_configuration``, ignored labels removed) and their scores: what
    ``SpacyNlpEngine.process_text`` would put in its ``NlpArtifacts`` for the same doc."""
    missing = [name for name in _PRIVATE_API if not callable(getattr(nlp_engine, name, None))]
    if missing:
        raise ThresherError(
            f"presidio-analyzer {presidio_version()} no longer has SpacyNlpEngine.{missing}, "
            "which thresher.pii.presidio_compat relies on; pin presidio-analyzer to the "
            "version in pyproject.toml or update presidio_compat.ner_entities_and_scores"
        )
    scores = nlp_engine._get_scores_for_entities(doc)
    entities, scores = nlp_engine._get_updated_entities(list(doc.ents), scores)
    return list(entities), list(scores)


def context_enhancer() -> Any:
    """A ``LemmaContextAwareEnhancer`` (Presidio's default, same settings) that enhances only
    the results whose recognizer has context words, the only ones Presidio's would change, and
    returns every other result unchanged at its place in the list."""
    from presidio_analyzer import RecognizerResult
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    key = RecognizerResult.RECOGNIZER_IDENTIFIER_KEY

    class _Enhancer(LemmaContextAwareEnhancer):
        def enhance_using_context(
            self,
            text: str,
            raw_results: list[Any],
            nlp_artifacts: Any,
            recognizers: list[Any],
            context: list[str] | None = None,
        ) -> list[Any]:
            with_context = {r.id for r in recognizers if r.context}
            changeable = [
                (r.recognition_metadata or {}).get(key) in with_context for r in raw_results
            ]
            chosen = [r for r, c in zip(raw_results, changeable, strict=True) if c]
            enhanced = iter(
                super().enhance_using_context(text, chosen, nlp_artifacts, recognizers, context)
                if chosen
                else []
            )
            return [
                next(enhanced) if c else r for r, c in zip(raw_results, changeable, strict=True)
            ]

        @staticmethod
        def _find_index_of_match_token(
            word: str, start: int, tokens: Any, tokens_indices: list[int]
        ) -> int:
            ends = getattr(tokens_indices, "ends", None)
            if ends is None:
                return LemmaContextAwareEnhancer._find_index_of_match_token(
                    word, start, tokens, tokens_indices
                )
            # Presidio's: the first token that starts at ``start`` or ends after it. Tokens
            # neither overlap nor are empty, so their ends rise: the first end past ``start``.
            i = bisect_right(ends, start)
            if i == len(ends):
                raise ValueError(
                    "Did not find word '" + word + "' "
                    "in the list of tokens although it "
                    "is expected to be found"
                )
            return i

    return _Enhancer()


@functools.cache
def analyzer_engine_class() -> type:
    """Presidio's ``AnalyzerEngine`` with the recognizer-level context step done in one pass
    (see the module docstring)."""
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerResult

    key = RecognizerResult.RECOGNIZER_IDENTIFIER_KEY
    base_enhance = EntityRecognizer.enhance_using_context

    class _AnalyzerEngine(AnalyzerEngine):
        def _enhance_using_context(
            self,
            text: str,
            raw_results: list[Any],
            nlp_artifacts: Any,
            recognizers: list[Any],
            context: list[str] | None = None,
        ) -> list[Any]:
            by_recognizer: dict[str, list[Any]] = {}
            for r in raw_results:
                by_recognizer.setdefault(r.recognition_metadata[key], []).append(r)
            results: list[Any] = []
            for recognizer in recognizers:
                own = list(by_recognizer.get(recognizer.id, ()))
                if type(recognizer).enhance_using_context is not base_enhance:
                    own = recognizer.enhance_using_context(
                        text=text,
                        raw_recognizer_results=own,
                        other_raw_recognizer_results=[
                            r for r in raw_results if r.recognition_metadata[key] != recognizer.id
                        ],
                        nlp_artifacts=nlp_artifacts,
                        context=context,
                    )
                results.extend(own)
            return self.context_aware_enhancer.enhance_using_context(
                text=text,
                raw_results=results,
                nlp_artifacts=nlp_artifacts,
                recognizers=recognizers,
                context=context,
            )

    return _AnalyzerEngine


class TokenStarts(list[int]):
    """A doc's token start offsets (``NlpArtifacts.tokens_indices``) that also know where each
    token ends, for the context enhancer's bisection."""

    def __init__(self, starts: Iterable[int], ends: list[int]) -> None:
        super().__init__(starts)
        self.ends = ends


class Keywords(list[str]):
    """``NlpArtifacts.keywords``: the same list, answering ``in`` from a set (built once;
    nothing changes the list after)."""

    def __init__(self, words: Iterable[str] = ()) -> None:
        super().__init__(words)
        self._members = frozenset(self)

    def __contains__(self, item: object) -> bool:
        return item in self._members


def keywords(
    nlp_engine: Any, lemmas: Iterable[str], language: str, memo: MutableMapping[str, tuple]
) -> Keywords:
    """What Presidio's ``NlpArtifacts.set_keywords`` gives for ``lemmas``: lower-cased lemmas
    that are no stop word, no punctuation, not ``-PRON-`` or ``be``, split at colons. ``memo``
    keeps each lemma's parts (for one engine and language)."""
    if not nlp_engine:
        return Keywords()
    found: list[str] = []
    for lemma in lemmas:
        parts = memo.get(lemma)
        if parts is None:
            keep = (
                not nlp_engine.is_stopword(lemma, language)
                and not nlp_engine.is_punct(lemma, language)
                and lemma != "-PRON-"
                and lemma != "be"
            )
            parts = tuple(lemma.lower().split(":")) if keep else ()
            memo[lemma] = parts
        found.extend(parts)
    return Keywords(found)


@functools.cache
def _artifacts_class() -> type:
    from presidio_analyzer.nlp_engine import NlpArtifacts

    pending = object()

    class _Artifacts(NlpArtifacts):
        def __init__(self, memo: MutableMapping[str, tuple], **kwargs: Any) -> None:
            self._memo = memo
            self._language = kwargs["language"]
            self._keywords: Any = None
            super().__init__(**kwargs)

        @staticmethod
        def set_keywords(nlp_engine: Any, lemmas: list[str], language: str) -> Any:
            return pending  # worked out on first use (``keywords``)

        @property
        def keywords(self) -> Any:
            if self._keywords is None:
                self._keywords = keywords(self.nlp_engine, self.lemmas, self._language, self._memo)
            return self._keywords

        @keywords.setter
        def keywords(self, value: Any) -> None:
            if value is not pending:
                self._keywords = value

    return _Artifacts


def artifacts(
    *,
    entities: list[Any],
    doc: Any,
    lemmas: list[str],
    nlp_engine: Any,
    language: str,
    scores: list[float],
    memo: MutableMapping[str, tuple],
) -> Any:
    """Presidio's ``NlpArtifacts`` for ``doc``, keywords worked out on first use (``memo``:
    see ``keywords``) and token ends known (``TokenStarts``)."""
    from spacy.attrs import IDX, LENGTH

    spans = doc.to_array([IDX, LENGTH])
    starts = spans[:, 0].tolist()
    ends = (spans[:, 0] + spans[:, 1]).tolist()
    return _artifacts_class()(
        memo,
        entities=entities,
        tokens=doc,
        tokens_indices=TokenStarts(starts, ends),
        lemmas=lemmas,
        nlp_engine=nlp_engine,
        language=language,
        scores=scores,
    )


def presidio_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("presidio-analyzer")
    except PackageNotFoundError:
        return "(not installed)"
