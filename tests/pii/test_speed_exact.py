"""The speed-ups that must not change what is found: Presidio's phone recognizer run on the
stretches that can hold a number, and the URL gate, against Presidio's own recognizers on the
whole text."""

from __future__ import annotations

import random

import pytest

from thresher.pii.presidio_compat import load_presidio

load_presidio()

from benchmarks.corpus import long_corpus  # noqa: E402
from presidio_analyzer.predefined_recognizers import (  # noqa: E402
    IpRecognizer,
    PhoneRecognizer,
    UrlRecognizer,
)

from thresher.pii.gates import GATES  # noqa: E402
from thresher.pii.recognizers.line_phone import LinePhoneRecognizer, phone_windows  # noqa: E402

TEXTS = [
    "call 212-555-0134 today",
    "call212-555-0134",  # a letter right before: rejected by phonenumbers either way
    "Tel: +44 20 7946 0958, ext. 123; fax (020) 7946 0959",
    "PAGER #4521. FAX SUMMARY TO (394) 223-2506.\nNOK: LINDA BAKER (WIFE), CONTACT 415 555 2671",
    "born in 1990, application no. 37486/10, EUR 7,000 on 13 May 2022",
    "at 12:30:45 the number 2125550134:12 was logged; 030 1234567 in Berlin",
    "+49 30 901820\n+33 1 42 68 53 00\n+972 2-123-4567\n+91 98765 43210\n+55 11 91234-5678",
    "ids 212 555 0134x12 and 212.555.0134 #55 and (212)5550134 ext 9",
    "page 1234567 of the report, pp. 212-555-0134",
    # a seven-digit run from a ZIP code over a line break into the phone number below it
    "Wilmington, DE 19899-0391 \n(302)-571-6600 \nFax : 302-576-3316",
    "",
]


def _rng_texts(n: int) -> list[str]:
    """Digit-heavy noise: runs of digits, separators, extension labels and letters."""
    rng = random.Random(16)
    parts = [
        " \n(",
        "212",
        "555",
        "0134",
        "4",
        "-",
        " ",
        "(",
        ")",
        ".",
        "/",
        "+1",
        "ext",
        "x",
        "#",
        "\n",
        ":",
        "Tel",
        "abc",
        "call",
        "44",
        "20",
        "7946",
        "0958",
        ",",
        "~",
        "int",
    ]
    return ["".join(rng.choice(parts) for _ in range(rng.randint(5, 60))) for _ in range(n)]


def _spans(results) -> list[tuple[int, int, str, float]]:
    return sorted((r.start, r.end, r.entity_type, r.score) for r in results)


@pytest.mark.parametrize("text", TEXTS + _rng_texts(300))
def test_windowed_phone_recognizer_finds_what_presidio_finds(text: str) -> None:
    stock = PhoneRecognizer()
    ours = LinePhoneRecognizer(name=stock.name)
    assert _spans(ours.analyze(text, ["PHONE_NUMBER"])) == _spans(
        stock.analyze(text, ["PHONE_NUMBER"])
    )


def test_remembered_verdicts_find_what_presidio_finds(monkeypatch) -> None:
    """One recognizer over every text twice: the second pass answers every candidate from
    the verdicts it kept, and both find Presidio's spans, scores and explanations."""
    from phonenumbers import PhoneNumberMatcher

    texts = TEXTS + _rng_texts(300) + long_corpus(2)
    stock = PhoneRecognizer()
    ours = LinePhoneRecognizer(name=stock.name)

    def found(recognizer, text):
        return sorted(
            (r.start, r.end, r.entity_type, r.score, r.analysis_explanation.textual_explanation)
            for r in recognizer.analyze(text, ["PHONE_NUMBER"])
        )

    want = [found(stock, t) for t in texts]
    assert [found(ours, t) for t in texts] == want
    assert sum(map(len, want)) > 30
    parsed = []
    original = PhoneNumberMatcher._parse_and_verify

    def counting(self, candidate, offset):
        parsed.append(candidate)
        return original(self, candidate, offset)

    monkeypatch.setattr(PhoneNumberMatcher, "_parse_and_verify", counting)
    assert [found(ours, t) for t in texts] == want
    assert parsed == []  # every verdict came from the first pass
    assert [found(LinePhoneRecognizer(), t) for t in TEXTS] == want[: len(TEXTS)]
    assert parsed  # a new recognizer starts with no verdicts


def test_phone_windows_cover_the_numbers_only() -> None:
    text = "The hearing was on 12 May 2022.\nCall 212-555-0134 now."
    windows = phone_windows(text)
    assert len(windows) == 1
    s, e = windows[0]
    assert "212-555-0134" in text[s:e]
    assert "hearing" not in text[s:e]


@pytest.mark.parametrize(
    "text",
    [
        "see example.org or https://www.example.co.uk/path",
        "Mail ANN@EXAMPLE.COM, visit sub-domain.example.io.",
        "No. 4. The end. e.g. this, i.e. that.",
        "Version 1.2 and 3.x, file.txt, a.b",
        *TEXTS,
    ],
)
def test_url_gate_passes_wherever_presidio_finds_a_url(text: str) -> None:
    found = UrlRecognizer().analyze(text, ["URL"])
    if found:
        assert GATES["URL"](text, sum(c.isdigit() for c in text))


@pytest.mark.parametrize(
    "text",
    [
        "from 10.1.2.3 and 192.168.0.1/24",
        "::1 and fe80::1ff:fe23:4567:890a and ::ffff:10.0.0.1",
        "no. 4, 13 May 2022. Version 1.2.",
        *TEXTS,
    ],
)
def test_ip_gate_passes_wherever_presidio_finds_an_address(text: str) -> None:
    found = IpRecognizer().analyze(text, ["IP_ADDRESS"])
    if found:
        assert GATES["IP_ADDRESS"](text, sum(c.isdigit() for c in text))
