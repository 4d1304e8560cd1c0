"""Table tests of the cheap per-type gates (``thresher.pii.gates``)."""

from __future__ import annotations

import pytest

from thresher.pii.engine import NER_ENTITIES
from thresher.pii.gates import GATES, gate


@pytest.mark.parametrize(
    ("entity_type", "text", "passes"),
    [
        ("EMAIL_ADDRESS", "ann@example.org", True),
        ("EMAIL_ADDRESS", "ann at example dot org", False),
        ("PHONE_NUMBER", "call (212) 555-0134", True),
        ("PHONE_NUMBER", "+46 (0)179 459 33", True),
        ("PHONE_NUMBER", "1 2 3 4 5 6 7 is no number", True),  # one separator each: a run
        ("PHONE_NUMBER", "12 - - - - 34567", False),  # four separators break the run
        ("PHONE_NUMBER", "ids 123, 456, 7", False),  # seven digits, not in one run
        ("CREDIT_CARD", "4111 1111 1111 1111", True),
        ("CREDIT_CARD", "4111 1111 111", False),
        ("US_SSN", "078-05-1120", True),
        ("US_SSN", "078-05", False),
        ("UK_NHS", "943 476 5919", True),
        ("UK_NHS", "943 476 591", False),
        ("IBAN_CODE", "DE89 3704", True),
        ("IBAN_CODE", "no digits", False),
        ("IP_ADDRESS", "10.1.2.3", True),
        ("IP_ADDRESS", "fe80::1", True),
        ("IP_ADDRESS", "version 1.2", False),
        ("IP_ADDRESS", "no. 4, 13 May 2022.", False),  # digits and dots, never digit.digit
        ("URL", "example.org", True),
        ("URL", "no dot here", False),
        ("URL", "See no. 4. The end.", False),  # a dot, but no host and domain around it
        ("URL", "WWW.EXAMPLE.COM", True),
        ("API_KEY", "sk_live-abc", True),
        ("API_KEY", "plain words", False),
        ("PASSWORD", "password=hunter", True),
        ("PASSWORD", "no secret", False),
        ("JWT", "eyJhbGciOi", True),
        ("JWT", "plain", False),
        # no gate: always runs
        ("EMPLOYEE_ID", "anything", True),
        ("PERSON", "", True),
    ],
)
def test_gate(entity_type, text, passes):
    assert gate([entity_type], text) == ([entity_type] if passes else [])


def test_gate_keeps_order_and_never_gates_ner_types():
    assert gate(["URL", "PERSON", "EMAIL_ADDRESS", "LOCATION"], "a@b.org") == [
        "URL",
        "PERSON",
        "EMAIL_ADDRESS",
        "LOCATION",
    ]
    assert gate(["URL", "PERSON"], "") == ["PERSON"]
    assert not (NER_ENTITIES & set(GATES))
