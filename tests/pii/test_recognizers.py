"""Table tests of thresher's own recognizers: what each must find, and what it must not."""

from __future__ import annotations

import pytest

from tests.pii.conftest import fresh_python
from thresher.pii.recognizers import (
    AssignedSecretRecognizer,
    AwsKeyRecognizer,
    CardInContextRecognizer,
    CountryRecognizer,
    GitHubTokenRecognizer,
    GoogleApiKeyRecognizer,
    JwtRecognizer,
    NanpPhoneRecognizer,
    OfficeTitledPersonRecognizer,
    OpenAiKeyRecognizer,
    PasswordRecognizer,
    PersonContextRecognizer,
    PhoneInContextRecognizer,
    PlaceContextRecognizer,
    PrivateKeyRecognizer,
    SlackTokenRecognizer,
    StreetAddressRecognizer,
    StripeKeyRecognizer,
    TitledPersonRecognizer,
)

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEpAIBAAKCAQEA75b2Zx9kLmQ0pR7sT1uV3wX5yZ8aB4cD6eF8gH0iJ2kL4mN6"
    "\noP8qR0sT2uV4wX6yZ8aB0cD2eF4gH6iJ8kL0mN2oP4qR6sT8uV0wX2yZ4aB6cD8eF0g==\n"
    "-----END RSA PRIVATE KEY-----"
)

# (recognizer class, text, expected matched substrings)
CASES = [
    (AwsKeyRecognizer, "id AKIAZ7QX3KLMN4PQRS2T ok", ["AKIAZ7QX3KLMN4PQRS2T"]),
    (
        AwsKeyRecognizer,
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzREALKEYz",
        ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzREALKEYz"],
    ),
    (AwsKeyRecognizer, "the docs use AKIAIOSFODNN7EXAMPLE", ["AKIAIOSFODNN7EXAMPLE"]),
    (AwsKeyRecognizer, "AKIA is a prefix; AKIA1234 is too short", []),
    (
        GitHubTokenRecognizer,
        "token: ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
        ["ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"],
    ),
    (GitHubTokenRecognizer, "ghp_short and gh_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", []),
    (
        SlackTokenRecognizer,
        "SLACK=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        ["xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"],
    ),
    (SlackTokenRecognizer, "the xox prefix and xoxb- alone", []),
    (
        StripeKeyRecognizer,
        "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        ["sk_live_4eC39HqLyjWDarjtT1zdp7dc"],
    ),
    (StripeKeyRecognizer, "sk_live_xxxxxxxxxxxxxxxxxxxx is a placeholder", []),
    (
        GoogleApiKeyRecognizer,
        "key=AIzaSyD3x4mPl3K3y-9aBcDeFgHiJkLmNoPqRsT",
        ["AIzaSyD3x4mPl3K3y-9aBcDeFgHiJkLmNoPqRsT"],
    ),
    (GoogleApiKeyRecognizer, "AIza alone, AIzaShort", []),
    (
        OpenAiKeyRecognizer,
        "OPENAI_API_KEY=sk-proj-Xy7Ab3Cd9Ef1Gh5Ij2Kl8Mn4Op6Qr0St",
        ["sk-proj-Xy7Ab3Cd9Ef1Gh5Ij2Kl8Mn4Op6Qr0St"],
    ),
    (OpenAiKeyRecognizer, "we use sk-learn-preprocessing-pipeline-module here", []),
    (
        AssignedSecretRecognizer,
        'api_key = "a8F3kL0pQz9xW2vB7nM4"',
        ["a8F3kL0pQz9xW2vB7nM4"],
    ),
    (AssignedSecretRecognizer, "api_key = ${API_KEY_FROM_ENVIRONMENT}", []),
    (AssignedSecretRecognizer, "token: aaaaaaaaaaaaaaaaaaaaaaaa", []),
    (PrivateKeyRecognizer, f"before\n{PEM}\nafter", [PEM]),
    (PrivateKeyRecognizer, "-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----", []),
    (
        PasswordRecognizer,
        "DATABASE_URL=postgres://admin:s3cr3tP4ss@db.internal:5432/app",
        ["s3cr3tP4ss"],
    ),
    (PasswordRecognizer, "Server=db;User Id=sa;Password=Tr0ub4dor&3;", ["Tr0ub4dor&3"]),
    (PasswordRecognizer, "password: ${DB_PASSWORD}", []),
    (PasswordRecognizer, "see https://example.com/path and user@example.com", []),
    (JwtRecognizer, f"Authorization: Bearer {JWT}", [JWT]),
    (JwtRecognizer, "eyJub3QiOiJhIGp3dCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijk", []),
    (
        TitledPersonRecognizer,
        "Mr A.B. Carter wrote to Mrs K. Patel and DR JOHN SMITH.",
        ["A.B. Carter", "K. Patel", "JOHN SMITH"],
    ),
    (TitledPersonRecognizer, "Dr. Okonkwo agreed.", ["Okonkwo"]),
    (TitledPersonRecognizer, "The U.S. Army and Dr The", []),
    (
        OfficeTitledPersonRecognizer,
        "Before Employment Judge Hargreaves, Lord Justice Underhill and HHJ Walden-Smith.",
        ["Hargreaves", "Underhill", "Walden-Smith"],
    ),
    (
        OfficeTitledPersonRecognizer,
        "Detective Inspector Brandt and Sgt. Mulroney met NP Delacroix; Coroner Janet Ridley",
        ["Brandt", "Mulroney", "Delacroix", "Janet Ridley"],
    ),
    (
        OfficeTitledPersonRecognizer,
        "Arden LJ gave judgment, with which Popplewell J and Lewison LJJ agreed.",
        ["Arden", "Popplewell", "Lewison"],
    ),
    (
        OfficeTitledPersonRecognizer,
        "the Justice Department, the Inspector General, Schedule J, Michael J. Fox, RN AWARE",
        [],
    ),
    (OfficeTitledPersonRecognizer, "Judge for yourself. PC Gamer and DC Comics", []),
    (
        StreetAddressRecognizer,
        "Send it to 1600 Pennsylvania Avenue NW, Washington, DC 20500.",
        ["1600 Pennsylvania Avenue NW, Washington, DC 20500"],
    ),
    (
        StreetAddressRecognizer,
        "Bor i Søndergade 52, Brønderslev",
        ["Søndergade 52, Brønderslev"],
    ),
    (StreetAddressRecognizer, "We sold 12 apples and 3 pears on the way home.", []),
    # docket address blocks: capitals, ordinals, bare "#" units, floors, the town before ST ZIP
    (
        StreetAddressRecognizer,
        "1850 N. CENTRAL AVE., #1150\nPHOENIX, AZ 85004",
        ["1850 N. CENTRAL AVE., #1150\nPHOENIX, AZ 85004"],
    ),
    (
        StreetAddressRecognizer,
        "1100 15th Street NW, 10th Floor\nWashington, DC 20005",
        ["1100 15th Street NW, 10th Floor\nWashington, DC 20005"],
    ),
    (StreetAddressRecognizer, "4835 LBJ FREEWAY, SUITE 700", ["4835 LBJ FREEWAY, SUITE 700"]),
    (StreetAddressRecognizer, "moved In Bellevue, WA 98007", ["Bellevue, WA 98007"]),
    # clinical shorthand in capitals is not a street
    (
        StreetAddressRecognizer,
        "2 VIEW CHEST CT. FOLLOW UP IN 2 WEEKS DR SMITH. 1 IV LINE IN PLACE. 2 LEADS ST ELEV",
        [],
    ),
    (
        StreetAddressRecognizer,
        "The bus station is on Villacher Strasse 89",
        ["Villacher Strasse 89"],
    ),
    (StreetAddressRecognizer, "The clinic is on Pod Floriánem 1677.", ["Pod Floriánem 1677"]),
    (StreetAddressRecognizer, "The app is on Python 3 and runs on Windows 10.", []),
    (
        StreetAddressRecognizer,
        "Meet me at the corner of Csabai kapu 39. and Mathias Pass tonight.",
        ["the corner of Csabai kapu 39. and Mathias Pass"],
    ),
    (
        StreetAddressRecognizer,
        "Ship to PSC 3294, Box 9168\nAPO AA 61487 please",
        ["PSC 3294, Box 9168\nAPO AA 61487"],
    ),
    (
        StreetAddressRecognizer,
        "unit 4526 box 0671\ndpo ap 40902",
        ["unit 4526 box 0671\ndpo ap 40902"],
    ),
    (StreetAddressRecognizer, "Unit 4 of the course: box plots", []),
    (
        StreetAddressRecognizer,
        "his address: 48334 36 Rue de Pologne, Tunis",
        ["48334 36 Rue de Pologne, Tunis"],
    ),
    (
        StreetAddressRecognizer,
        "> Lina Artemova\n> 2224 Trenerys gate 232\n> Apt. 342\n> TRONDHEIM\n> Norway 64389",
        ["2224 Trenerys gate 232\n> Apt. 342\n> TRONDHEIM\n> Norway 64389"],
    ),
    (StreetAddressRecognizer, "My zip code is 90010-170, thanks", ["90010-170"]),
    (StreetAddressRecognizer, "The restaurant is at 17151 2450 Crown St", ["17151 2450 Crown St"]),
    (
        CountryRecognizer,
        "She moved from Southern Tunisia to New Zealand.",
        ["Tunisia", "New Zealand"],
    ),
    (CountryRecognizer, "A tunisian recipe; Chadwick and Nigeriana are not countries.", []),
    (
        NanpPhoneRecognizer,
        "call (212) 201-1000  4111 1111 1111 1111 or +1 415.555.0199",
        ["(212) 201-1000", "+1 415.555.0199"],
    ),
    (NanpPhoneRecognizer, "order 2125550134, version 1.212.555, isbn 123-456-7890", []),
    (
        PersonContextRecognizer,
        "My name is Siiri. I would like to remove my kid Lukas from the will.",
        ["Siiri", "Lukas"],
    ),
    (PersonContextRecognizer, "Dear Sir, my name is not important", []),
    (
        PersonContextRecognizer,
        'Enrico shouted at Gary: "Why?" It was Franciska\'s kid. She named him Luís.',
        ["Enrico", "Gary", "Franciska", "Luís"],
    ),
    (PersonContextRecognizer, "Warrane, can I please speak to your boss?", ["Warrane"]),
    (PersonContextRecognizer, "However, can we go? Thanks, I will. Finally, do it.", []),
    (PersonContextRecognizer, "The old format lives on. Megan lives on Via Tasso 129.", ["Megan"]),
    (
        PersonContextRecognizer,
        "Name: Sieda Batukayev Phone: 555. What's your last name? Boyle",
        ["Sieda Batukayev", "Boyle"],
    ),
    # weak without context (0.2): reported only once Presidio's context enhancement lifts it
    (PhoneInContextRecognizer, "Version 1.22.3 shipped 2024-05-01 with 450 0840 rows", []),
    (
        PlaceContextRecognizer,
        "Mr. Leiva flew to LEPPEN on Tuesday; she grew up in Villafranca del Cid.",
        ["LEPPEN", "Villafranca del Cid"],
    ),
    (PlaceContextRecognizer, "We moved to Monday meetings; he lives in fear.", []),
    # Luhn-valid 19 digits: weak (0.3) without context, so not reported here
    (CardInContextRecognizer, "Order 4652943034623769885 shipped", []),
]


@pytest.mark.parametrize(("cls", "text", "expected"), CASES)
def test_recognizer_table(cls, text, expected):
    recognizer = cls()
    results = recognizer.analyze(text, recognizer.supported_entities, None)
    spans = sorted((r.start, r.end) for r in results if r.score >= 0.4)
    merged: list[list[int]] = []
    for start, end in spans:  # overlapping matches of one recognizer are one finding
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    assert sorted(text[s:e] for s, e in merged) == sorted(expected)


def test_every_recognizer_declares_one_entity():
    from thresher.pii.recognizers import thresher_recognizers

    for r in thresher_recognizers():
        assert len(r.supported_entities) == 1
        assert r.supported_entities[0] in {
            "API_KEY",
            "PRIVATE_KEY",
            "PASSWORD",
            "JWT",
            "PERSON",
            "LOCATION",
            "PHONE_NUMBER",
            "CREDIT_CARD",
            "ID_NUMBER",
            "AGE_OVER_89",
        }


def test_country_names_are_phonenumbers_display_names_without_its_geocoding_tables():
    """The names are exactly what phonenumbers' geocoder gives for each region in English, and
    reading them does not import ``phonenumbers.geodata`` (every per-prefix geocoding table:
    about a second and 100 MB per worker)."""
    import phonenumbers
    from phonenumbers import geocoder

    from thresher.pii.recognizers.country import country_names

    expected = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        name = geocoder._region_display_name(region, "en")
        if name and "," not in name:
            expected.add(name)
    names = country_names()
    assert set(names) == expected and len(names) == len(expected) > 200
    assert [len(n) for n in names] == sorted((len(n) for n in names), reverse=True)
    probe = (
        "import json, sys\n"
        "from thresher.pii.recognizers.country import CountryRecognizer\n"
        "CountryRecognizer()\n"
        "print(json.dumps('phonenumbers.geodata' in sys.modules))\n"
    )
    assert fresh_python(probe) is False


def test_country_trie_matches_what_the_longest_first_alternation_matches():
    """The prefix tree finds the same spans as the plain alternation of the names, longest
    first: on every name alone, glued to a letter or hyphen (where the lookahead sends the
    match back to a shorter name, or to none), in pairs, and on real and generated text."""
    import regex
    from benchmarks.corpus import long_corpus

    from tests.pii.conftest import sample_texts
    from thresher.pii.recognizers._base import CASE_SENSITIVE
    from thresher.pii.recognizers.country import country_names, literal_trie

    names = country_names()
    flat = "|".join(regex.escape(n) for n in names)
    edges = r"(?<![\p{L}\-])%s(?![\p{L}\-])"
    plain = regex.compile(edges % f"(?:{flat})", flags=CASE_SENSITIVE)
    tree = regex.compile(edges % literal_trie(names), flags=CASE_SENSITIVE)
    texts = sample_texts() + long_corpus(2)
    for name in names:
        texts += [
            name,
            f"in {name}.",
            f"{name}n and {name}-x",
            f"{name}ia {name}s",
            f"{name}{name}",
        ]
    texts.append(" ".join(names))
    found = 0
    for text in texts:
        want = [m.span() for m in plain.finditer(text)]
        assert [m.span() for m in tree.finditer(text)] == want, text[:80]
        found += len(want)
    assert found > 3 * len(names)  # not vacuous
    # a shorter name inside a longer one is still found where the longer one does not fit
    recognizer = CountryRecognizer()
    spans = [(r.start, r.end) for r in recognizer.analyze("Niger, Nigeria, Nigerian", ["LOCATION"])]
    assert spans == [(0, 5), (7, 14)]
