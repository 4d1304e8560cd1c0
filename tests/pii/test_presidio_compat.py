"""What thresher relies on in Presidio beyond its public API (``thresher.pii.presidio_compat``),
and that importing ``thresher.pii`` has no side effects.

If a test here fails after a Presidio upgrade, the upgrade changed something thresher uses:
read the message, then pin presidio-analyzer or update ``presidio_compat``.
"""

from __future__ import annotations

import inspect
import os

import pytest

from tests.pii.conftest import fresh_python
from thresher.errors import ThresherError
from thresher.pii.presidio_compat import ner_entities_and_scores, presidio_version

_ENV = {k: v for k, v in os.environ.items() if k != "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"}


def test_importing_thresher_pii_has_no_side_effects():
    """Every module of thresher.pii but the recognizers (Presidio subclasses) imports without
    writing the environment or loading Presidio, spaCy or tldextract."""
    code = """
import importlib, json, os, pkgutil, sys
before = dict(os.environ)
import thresher.pii
names = [m.name for m in pkgutil.iter_modules(thresher.pii.__path__, "thresher.pii.")
         if m.name != "thresher.pii.recognizers"]
for name in names:
    importlib.import_module(name)
heavy = ("presidio_analyzer", "presidio_anonymizer", "spacy", "thinc", "tldextract", "torch")
print(json.dumps({"n": len(names), "env_changed": dict(os.environ) != before,
                  "loaded": [m for m in heavy if m in sys.modules]}))
"""
    result = fresh_python(code, _ENV)
    assert result["n"] >= 15
    assert result == {"n": result["n"], "env_changed": False, "loaded": []}


def test_load_presidio_is_offline_and_keeps_torch_out():
    code = """
import json, os, sys
from thresher.pii.presidio_compat import load_presidio
load_presidio()
load_presidio()  # idempotent
import tldextract.tldextract as t
result = {"env": os.environ.get("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"),
          "suffix_urls": list(t.TLD_EXTRACTOR.suffix_list_urls),
          "presidio": "presidio_analyzer" in sys.modules and "spacy" in sys.modules,
          "torch_during": "torch" in sys.modules or "transformers" in sys.modules}
import torch  # still importable afterwards
print(json.dumps(result))
"""
    assert fresh_python(code, _ENV) == {
        "env": "",
        "suffix_urls": [],
        "presidio": True,
        "torch_during": False,
    }


def test_presidio_private_api_is_still_there():
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    expected = {
        "_get_scores_for_entities": ["self", "doc"],
        "_get_updated_entities": ["self", "entities", "scores"],
    }
    found = {
        name: list(inspect.signature(getattr(SpacyNlpEngine, name)).parameters)
        if hasattr(SpacyNlpEngine, name)
        else None
        for name in expected
    }
    assert found == expected, (
        f"presidio-analyzer {presidio_version()} changed SpacyNlpEngine's private methods that "
        f"thresher.pii.presidio_compat.ner_entities_and_scores calls: expected {expected}, "
        f"found {found}"
    )


def test_ner_mapping_is_presidios_own(analyzer):
    """On the same doc, thresher's entities and scores equal what Presidio's public
    ``process_text`` puts in its NlpArtifacts: labels mapped, ignored labels dropped."""
    engine = analyzer.nlp_engine
    text = "John Smith met Mary Okafor in Paris on Monday; Acme Corp paid the Germans."
    doc = analyzer.nlp(text)
    entities, scores = ner_entities_and_scores(engine, doc)
    artifacts = engine.process_text(text, "en")

    def spans(ents):
        return [(e.start_char, e.end_char, e.label_) for e in ents]

    ours, theirs = (spans(entities), scores), (spans(artifacts.entities), artifacts.scores)
    assert ours == theirs, (
        f"presidio-analyzer {presidio_version()}: thresher's NER mapping (presidio_compat) "
        f"no longer matches Presidio's process_text: {ours} != {theirs}"
    )
    # the mapping did something: ORG ignored, GPE mapped to LOCATION
    labels = {label for _, _, label in ours[0]}
    assert {"PERSON", "LOCATION"} <= labels
    assert not labels & {"ORG", "GPE"}
    assert {e.label_ for e in doc.ents} & {"ORG", "GPE"}


def test_a_missing_private_api_fails_with_a_clear_message():
    with pytest.raises(ThresherError, match=r"presidio-analyzer .* presidio_compat"):
        ner_entities_and_scores(object(), None)


def test_context_enhancer_gives_what_presidios_gives():
    """thresher's enhancer hands Presidio's only the results it can change; every result of
    a full ``analyze`` (scores after context included) equals Presidio's own, in order."""
    from presidio_analyzer import AnalyzerEngine

    from tests.pii.conftest import sample_texts
    from thresher.config import PiiConfig
    from thresher.pii.engine import build_analyzer

    ours = build_analyzer(PiiConfig(preset="hipaa_safe_harbor"))
    stock = AnalyzerEngine(
        registry=ours.registry, nlp_engine=ours.nlp_engine, supported_languages=["en"]
    )
    assert type(ours.context_aware_enhancer) is not type(stock.context_aware_enhancer)
    texts = [
        "Call me on 212-555-0134 or my cell 415 555 2671; pager 4521.",
        "She lives at 12 Main Street, Springfield, IL 62701; zip code 62701.",
        "Patient John Smith, MRN 12345678, DOB 03/04/1950, SSN 078-05-1120.",
        *sample_texts()[:120],
    ]
    boosted = 0
    for text in texts:
        a = ours.analyze(text=text, language="en", return_decision_process=True)
        b = stock.analyze(text=text, language="en", return_decision_process=True)
        key = [(r.entity_type, r.start, r.end, r.score) for r in a]
        assert key == [(r.entity_type, r.start, r.end, r.score) for r in b]
        boosted += sum(
            bool(r.analysis_explanation and r.analysis_explanation.supportive_context_word)
            for r in a
        )
    assert boosted >= 3  # context enhancement ran and raised scores


def test_artifacts_give_presidios_keywords_tokens_and_context():
    """``artifacts`` (keywords on first use, token ends known) against Presidio's own
    ``NlpArtifacts`` over the same docs: the same keywords, token starts and lemmas, each
    result's token found by bisection where Presidio's walk finds it, and the same scores
    after context enhancement."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
    from presidio_analyzer.nlp_engine import NlpArtifacts

    from tests.pii.conftest import sample_texts
    from thresher.config import PiiConfig
    from thresher.pii.engine import build_analyzer
    from thresher.pii.presidio_compat import artifacts, context_enhancer

    ours = build_analyzer(PiiConfig(preset="hipaa_safe_harbor"))
    stock = AnalyzerEngine(
        registry=ours.registry, nlp_engine=ours.nlp_engine, supported_languages=["en"]
    )
    nlp = ours.nlp_engine.get_nlp("en")
    enhancer = context_enhancer()
    texts = [
        "",
        "  Call me: on 212-555-0134 or my cell 415 555 2671; pager 4521.  ",
        "Patient John Smith, MRN 12345678, DOB 03/04/1950, SSN 078-05-1120.",
        *sample_texts()[:80],
    ]
    memo: dict[str, tuple[str, ...]] = {}
    boosted = 0
    for text in texts:
        doc = nlp(text)
        lemmas = [t.lemma_ or t.lower_ for t in doc]
        common = dict(entities=list(doc.ents), lemmas=lemmas, nlp_engine=ours.nlp_engine)
        theirs = NlpArtifacts(
            tokens=doc, tokens_indices=[t.idx for t in doc], language="en", **common
        )
        mine = artifacts(doc=doc, language="en", scores=theirs.scores, memo=memo, **common)
        assert list(mine.tokens_indices) == theirs.tokens_indices
        assert list(mine.keywords) == theirs.keywords
        assert all((w in mine.keywords) == (w in theirs.keywords) for w in [*lemmas, "be", ""])
        for start in range(len(text) + 2):
            try:
                want = LemmaContextAwareEnhancer._find_index_of_match_token(
                    "w", start, doc, theirs.tokens_indices
                )
            except ValueError:
                with pytest.raises(ValueError, match="Did not find word"):
                    enhancer._find_index_of_match_token("w", start, doc, mine.tokens_indices)
            else:
                assert (
                    enhancer._find_index_of_match_token("w", start, doc, mine.tokens_indices)
                    == want
                )
        a = ours.analyze(text=text, language="en", nlp_artifacts=mine, return_decision_process=True)
        b = stock.analyze(
            text=text, language="en", nlp_artifacts=theirs, return_decision_process=True
        )
        assert [(r.entity_type, r.start, r.end, r.score) for r in a] == [
            (r.entity_type, r.start, r.end, r.score) for r in b
        ]
        boosted += sum(bool(r.analysis_explanation.supportive_context_word) for r in a)
    assert memo  # the verdicts were kept
    assert boosted >= 1


def test_engine_context_step_keeps_a_recognizers_own_enhancement():
    """``analyzer_engine_class`` calls a recognizer's own ``enhance_using_context`` where its
    class overrides the base one, with the results Presidio's engine gives it."""
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer

    from thresher.config import PiiConfig
    from thresher.pii.engine import build_analyzer

    seen: list[tuple[int, int]] = []

    class Boosting(PatternRecognizer):
        def enhance_using_context(self, text, raw_recognizer_results, *others, **kw):  # type: ignore[no-untyped-def]
            other = kw.get("other_raw_recognizer_results", others[0] if others else [])
            seen.append((len(raw_recognizer_results), len(other)))
            for r in raw_recognizer_results:
                r.score = 0.77
            return raw_recognizer_results

    ours = build_analyzer(PiiConfig())
    ours.registry.add_recognizer(
        Boosting(supported_entity="TICKET", patterns=[Pattern("ticket", r"\bT-\d{4}\b", 0.3)])
    )
    stock = AnalyzerEngine(
        registry=ours.registry, nlp_engine=ours.nlp_engine, supported_languages=["en"]
    )
    text = "Ticket T-1234 and T-5678 were filed by Ann Smith of Boston, phone 212-555-0134."
    got = []
    for engine in (ours, stock):
        seen.clear()
        found = engine.analyze(text=text, language="en")
        got.append(([(r.entity_type, r.start, r.end, r.score) for r in found], list(seen)))
    assert got[0] == got[1]
    assert ("TICKET", 7, 13, 0.77) in got[0][0] and got[0][1][0][0] == 2
