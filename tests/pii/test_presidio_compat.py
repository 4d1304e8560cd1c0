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
