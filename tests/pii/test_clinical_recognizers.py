"""Table tests of the recognizers for clinical and legal text (cued short phone numbers,
cued identifying numbers, care facilities, places inside institution names, ages over 89)
and of the year-keeping date cut: what each must find, and what it must not."""

from __future__ import annotations

import pytest

from thresher.config import PiiConfig
from thresher.pii.dates import keep_years
from thresher.pii.operators import Detection
from thresher.pii.recognizers import (
    AgeOver89Recognizer,
    CuedIdNumberRecognizer,
    CuedShortPhoneRecognizer,
    FacilityRecognizer,
    PlaceInOrganisationRecognizer,
    thresher_recognizers,
)

# (recognizer class, text, expected matched substrings)
CASES = [
    # pager, beeper, fax and extension numbers: PHONE_NUMBER
    (CuedShortPhoneRecognizer, "Pager #12345 any time", ["12345"]),
    (CuedShortPhoneRecognizer, "reached on PG 4-5678 overnight", ["4-5678"]),
    (CuedShortPhoneRecognizer, "paged on beeper 3321.", ["3321"]),
    (CuedShortPhoneRecognizer, "fax: 617 555 0100", ["617 555 0100"]),
    (CuedShortPhoneRecognizer, "call the desk, ext. 4412", ["4412"]),
    (CuedShortPhoneRecognizer, "212 555 0134 x4412", ["x4412"]),
    (CuedShortPhoneRecognizer, "Extension: 2210 for the ward", ["2210"]),
    (CuedShortPhoneRecognizer, "see page 12 of the report", []),
    (CuedShortPhoneRecognizer, "an extension of the deadline", []),
    (CuedShortPhoneRecognizer, "an extension 30 days long", []),
    (CuedShortPhoneRecognizer, "see pg. 12 and pg 140", []),
    (CuedShortPhoneRecognizer, "sent by fax 3 pages", []),
    (CuedShortPhoneRecognizer, "a PG 13 film", []),
    # cued identifying numbers: ID_NUMBER
    (CuedIdNumberRecognizer, "MRN: 4455123", ["4455123"]),
    (CuedIdNumberRecognizer, "MR# 00923 seen today", ["00923"]),
    (CuedIdNumberRecognizer, "Case No. 2:19-cv-01234 was filed", ["2:19-cv-01234"]),
    (CuedIdNumberRecognizer, "in application no. 12345/08 lodged", ["12345/08"]),
    (CuedIdNumberRecognizer, "Account number 9921-3344-11", ["9921-3344-11"]),
    (CuedIdNumberRecognizer, "Policy #ABC123456.", ["ABC123456"]),
    (CuedIdNumberRecognizer, "licence no. D1234567", ["D1234567"]),
    (CuedIdNumberRecognizer, "Health plan ID: XJH448812", ["XJH448812"]),
    (CuedIdNumberRecognizer, "Member ID W123456789 and", ["W123456789"]),
    (CuedIdNumberRecognizer, "VIN 1HGCM82633A004352", ["1HGCM82633A004352"]),
    (CuedIdNumberRecognizer, "device serial no. SN-88412", ["SN-88412"]),
    (CuedIdNumberRecognizer, "a case study of 300 patients", []),
    (CuedIdNumberRecognizer, "the hospital policy says", []),
    (CuedIdNumberRecognizer, "Case 2 was milder", []),
    (CuedIdNumberRecognizer, "on account of 1998 events", []),
    (CuedIdNumberRecognizer, "page 12 of the report", []),
    (CuedIdNumberRecognizer, "DOB 12/03/1950", []),
    # care facilities: LOCATION
    (FacilityRecognizer, "taken to St Mary's Hospital today", ["St Mary's Hospital"]),
    (
        FacilityRecognizer,
        "Beth Israel Deaconess Medical Center",
        ["Beth Israel Deaconess Medical Center"],
    ),
    (FacilityRecognizer, "transferred to Lakeview Memorial on", ["Lakeview Memorial"]),
    (FacilityRecognizer, "lives at Greenacres Nursing Home", ["Greenacres Nursing Home"]),
    (
        FacilityRecognizer,
        "PT TRANSFERRED TO ST CHRISTOPHER'S HOSPICE",
        ["ST CHRISTOPHER'S HOSPICE"],
    ),
    (FacilityRecognizer, "pt was admitted to mercy hospital last night", ["mercy hospital"]),
    (
        FacilityRecognizer,
        "pt transferred to st. mary's hospital on 3/4",
        ["st. mary's hospital"],
    ),
    (FacilityRecognizer, "follow up at the Mayo Clinic", ["Mayo Clinic"]),
    (FacilityRecognizer, "admitted to the hospital", []),
    (FacilityRecognizer, "General Hospital and the Cardiology Clinic", []),
    (FacilityRecognizer, "the hospital policy on visits", []),
    (FacilityRecognizer, "The Hospital said", []),
    (FacilityRecognizer, "a memorial service; he attended the Memorial", []),
    # places inside institution names: LOCATION, the place only
    (PlaceInOrganisationRecognizer, "before the Leeds District Court", ["Leeds"]),
    (PlaceInOrganisationRecognizer, "Birmingham City Council decided", ["Birmingham"]),
    (PlaceInOrganisationRecognizer, "held at the Istanbul police headquarters", ["Istanbul"]),
    (PlaceInOrganisationRecognizer, "the Diyarbakır State Security Court", ["Diyarbakır"]),
    (PlaceInOrganisationRecognizer, "the Newcastle upon Tyne Crown Court", ["Newcastle upon Tyne"]),
    (PlaceInOrganisationRecognizer, "the Supreme Court and the European Court", []),
    (PlaceInOrganisationRecognizer, "the Regional Court of Appeal", []),
    (PlaceInOrganisationRecognizer, "The Metropolitan Police said", []),
    (PlaceInOrganisationRecognizer, "the Court of Appeal", []),
    (PlaceInOrganisationRecognizer, "In March Prison", []),
    # ages over 89: AGE_OVER_89
    (AgeOver89Recognizer, "a 92-year-old woman", ["92"]),
    (AgeOver89Recognizer, "aged 94, Age: 101", ["94", "101"]),
    (AgeOver89Recognizer, "93 y/o and 91 yo", ["93", "91"]),
    (AgeOver89Recognizer, "is 95 years of age", ["95"]),
    (AgeOver89Recognizer, "a 45-year-old man, aged 89", []),
    (AgeOver89Recognizer, "room 92 in the old wing", []),
]


@pytest.mark.parametrize("cls,text,expected", CASES)
def test_clinical_recognizer_table(cls, text, expected):
    recognizer = cls()
    results = recognizer.analyze(text, recognizer.supported_entities, None)
    found = sorted(text[r.start : r.end] for r in results if r.score >= 0.4)
    assert found == sorted(expected)


@pytest.mark.parametrize(
    "text,kept",
    [
        ("12 March 1998", ["12 March"]),
        ("March 12, 1998", ["March 12"]),
        ("03/12/1998", ["03/12"]),
        ("1998-03-12", ["03-12"]),
        ("March of 1998", ["March"]),
        ("1998", []),
        ("between 1998 and 2004", []),
        ("12 March", ["12 March"]),
        ("14:30 on 5 May 2001", ["14:30 on 5 May"]),
        ("Monday", ["Monday"]),
        ("today", []),
        ("Today", []),
        ("two weeks ago", []),
    ],
)
def test_keep_years_cuts_the_year_out_of_dates(text, kept):
    dets = [Detection(0, len(text), "DATE_TIME", 0.85), Detection(0, 2, "PERSON", 0.9)]
    out = keep_years(text, dets)
    assert [text[d.start : d.end] for d in out if d.entity_type == "DATE_TIME"] == kept
    assert Detection(0, 2, "PERSON", 0.9) in out  # other types untouched


def test_places_in_organisations_switch():
    names = {r.name for r in thresher_recognizers(places_in_organisations=False)}
    assert "PlaceInOrganisationRecognizer" not in names
    assert "PlaceInOrganisationRecognizer" in {r.name for r in thresher_recognizers()}
    from thresher.pii.engine import build_registry

    off = build_registry(PiiConfig(places_in_organisations=False))
    assert "PlaceInOrganisationRecognizer" not in {r.name for r in off.recognizers}


def test_preset_sets_entities_and_years_explicit_keys_win():
    preset = PiiConfig(preset="hipaa_safe_harbor")
    assert {"DATE_TIME", "ID_NUMBER", "AGE_OVER_89", "US_NPI", "MAC_ADDRESS"} <= set(
        preset.entities
    )
    assert preset.keep_years is True
    own = PiiConfig(preset="hipaa_safe_harbor", entities=["PERSON"])
    assert own.entities == ["PERSON"] and own.keep_years is True
    assert "DATE_TIME" not in PiiConfig().entities and PiiConfig().keep_years is False


def test_preset_applies_over_a_recipe_that_spells_out_the_defaults():
    """pipelines/default.yaml writes every key with its default: the preset still applies."""
    from tests.conftest import REPO
    from thresher.config import load_config

    cfg = load_config(REPO / "pipelines" / "default.yaml", ["pii.preset=hipaa_safe_harbor"]).pii
    assert "DATE_TIME" in cfg.entities and cfg.keep_years is True


def test_preset_entities_are_all_supported():
    from thresher.pii.engine import check_entities

    check_entities(PiiConfig(preset="hipaa_safe_harbor"))
    check_entities(PiiConfig(entities=["ID_NUMBER", "AGE_OVER_89"]))


def test_id_numbers_get_findings_that_an_erasure_request_matches(keys):
    """``thresher forget --value 44-55-123 --entity ID_NUMBER`` hashes the value the way the
    finding was hashed: separators and case do not matter for identifiers."""
    from thresher.forget import _value_hashes
    from thresher.pii.normalize import normalize_value
    from thresher.pii.process import PiiProcessor
    from thresher.records import Document

    assert normalize_value("ID_NUMBER", "ab-4471/k") == normalize_value("ID_NUMBER", "AB4471K")
    processor = PiiProcessor(PiiConfig(preset="hipaa_safe_harbor"), keys)
    doc = Document(id="n", text="Seen today. MRN: 4455123, bed 4.", source="s", position=0)
    (out,), _ = processor.process([doc])
    assert out.text == "Seen today. MRN: <ID_NUMBER>, bed 4."
    [finding] = [f for f in out.pii if f.entity_type == "ID_NUMBER"]
    assert finding.value_hmac in _value_hashes(keys, "44-55-123", "ID_NUMBER", [])


@pytest.mark.parametrize(
    ("value", "shape"),
    [
        (
            "12 March",
            r"\d\d (January|February|March|April|May|June|July|August|September|"
            r"October|November|December)",
        ),
        ("03/15", r"\d\d/\d\d"),
        ("14:30 on 5 MAY", r"\d\d:\d\d on \d+ [A-Z]{3}"),
        ("Mon", r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun)"),
    ],
)
def test_date_surrogates_keep_the_shape(value, shape):
    import re

    from thresher.pii.surrogates import surrogate

    fake = surrogate("DATE_TIME", value, b"0123456789abcdef")
    assert re.fullmatch(shape, fake), fake
    numbers = [int(n) for n in re.findall(r"\d+", fake)]
    assert all(1 <= n <= 12 for n in numbers)  # a valid day, month, hour and minute alike


def test_age_over_89_surrogate_is_the_safe_harbor_category():
    from thresher.pii.surrogates import surrogate

    assert {surrogate("AGE_OVER_89", v, bytes([i]) * 16) for i, v in enumerate(["92", "101"])} == {
        "90"
    }


def test_preset_with_date_surrogates_keeps_the_year(keys):
    from thresher.pii.process import PiiProcessor
    from thresher.records import Document

    cfg = PiiConfig(preset="hipaa_safe_harbor", operators={"DATE_TIME": "surrogate"})
    doc = Document(
        id="d", text="She was admitted on 12 March 1998 for a fall.", source="s", position=0
    )
    (out,), _ = PiiProcessor(cfg, keys).process([doc])
    assert "12 March" not in out.text and " 1998 for a fall." in out.text
    assert out.text.startswith("She was admitted on ")
