"""``pii.preset: hipaa_safe_harbor`` through the real ``AnonymizePii`` stage (Beam
FnApiRunner, Presidio, spaCy): a clinical note holding every kind of Safe Harbor identifier
text can hold loses all of them, years stay; without the preset, dates stay as they are."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that

from thresher.config import PiiConfig
from thresher.records import Document
from thresher.stages.pii import AnonymizePii

from .conftest import TEST_KEY

NOTE = """DISCHARGE SUMMARY

Patient: Margaret Ellison    MRN: 4455123    Account number 9921-3344-11
Admitted 12 March 1998 to St Brigid's Hospital, transferred to Lakeview Memorial on 03/15/1998.
Mrs Ellison is a 92-year-old widow who lives at 42 Harrow Lane, Dunmore, PA 18512.
Attending: Dr. Samuel Okafor, Pager #4471, fax 570-555-0187 ext. 212.
Health plan ID: XJH448812. Policy #PLC-778812. Driver licence no. D1234567.
E-mail margaret.ellison@example.org, portal https://portal.stbrigid.example.com/p/4455123
device serial no. SN-88412, VIN 1HGCM82633A004352, workstation IP 192.168.14.22.
SSN 536-22-8714. She was previously seen at the Dunmore District Court in case no. 2:19-cv-01234.
pt was later admitted to mercy hospital for rehab.
Her GP, Dr Helen Marsh (NPI 1245319599), notes Medicare MBI 1EG4-TE5-MK73.
She was born in Scranton, Lackawanna County, and moved to Clarks Summit in 2004.
Bedside monitor MAC 00:1A:2B:3C:4D:5E, record UUID 123e4567-e89b-12d3-a456-426614174000.
Passport number 912803456. Follow-up on 4/22/1998 at 10:30.
"""

# Every planted identifier, by Safe Harbor category.
PLANTED = {
    "names": ["Margaret", "Ellison", "Samuel Okafor", "Helen Marsh"],
    "geography": [
        "St Brigid",
        "Lakeview",
        "Harrow Lane",
        "Dunmore",
        "18512",
        "mercy hospital",
        "Scranton",
        "Lackawanna",
        "Clarks Summit",
    ],
    "dates": ["12 March", "03/15", "4/22", "10:30"],
    "ages over 89": ["92"],
    "phone and fax": ["4471", "570-555-0187", "212"],
    "e-mail": ["margaret.ellison@example.org"],
    "SSN": ["536-22-8714"],
    "record, plan, account, licence numbers": [
        "4455123",
        "9921-3344-11",
        "XJH448812",
        "PLC-778812",
        "D1234567",
        "2:19-cv-01234",
        "1245319599",
        "1EG4-TE5-MK73",
        "912803456",
    ],
    "vehicle and device identifiers": [
        "SN-88412",
        "1HGCM82633A004352",
        "00:1A:2B:3C:4D:5E",
        "123e4567-e89b-12d3-a456-426614174000",
    ],
    "URLs": ["portal.stbrigid"],
    "IP addresses": ["192.168.14.22"],
}


def _run(tmp_path, cfg_kwargs, check) -> None:
    """Run ``AnonymizePii`` on ``NOTE``; ``check(text)`` asserts on the anonymized text."""
    key = tmp_path / "pii.key"
    key.write_bytes(TEST_KEY)
    cfg = PiiConfig(key_file=str(key), **cfg_kwargs)
    doc = Document(id="note", text=NOTE, source="s", position=0, meta={})

    def _one(texts):
        assert len(texts) == 1
        check(texts[0])

    with TestPipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        out = p | beam.Create([doc]) | AnonymizePii(cfg)
        assert_that(out["main"] | beam.Map(lambda d: d.text), _one)


def _check_safe_harbor(text: str) -> None:
    survivors = {kind: [v for v in values if v in text] for kind, values in PLANTED.items()}
    assert {k: v for k, v in survivors.items() if v} == {}
    assert "<DATE_TIME> 1998" in text  # "12 March 1998"
    assert "<DATE_TIME>/1998" in text  # "03/15/1998"
    assert "in 2004" in text  # a year alone stays
    assert "<ID_NUMBER>" in text


def _check_default(text: str) -> None:
    for date in ("12 March 1998", "03/15/1998", "4/22/1998 at 10:30"):
        assert date in text
    assert "Margaret" not in text and "4471" not in text  # names and pager numbers go


def test_preset_removes_every_planted_identifier_and_keeps_years(tmp_path):
    _run(tmp_path, {"preset": "hipaa_safe_harbor"}, _check_safe_harbor)


def test_default_recipe_keeps_dates(tmp_path):
    _run(tmp_path, {}, _check_default)
