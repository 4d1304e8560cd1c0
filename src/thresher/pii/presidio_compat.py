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
  cost more than the enhancement); the others are returned as they came, in place.

Recognizer modules (``thresher.pii.recognizers``) subclass Presidio classes, so they import
Presidio at import; thresher imports them only after ``load_presidio()``.
"""

from __future__ import annotations

import os
import sys
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

    return _Enhancer()


def presidio_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("presidio-analyzer")
    except PackageNotFoundError:
        return "(not installed)"
