"""Deterministic surrogates: a realistic fake of the same type and format, chosen from a keyed
hash of the normalized value. The same value gets the same surrogate in every document,
shard, worker and run that uses the same key; without the key the mapping cannot be rebuilt.

Generated values avoid real people's data where a reserved range exists: e-mail domains are
RFC 2606 ``example.*``, IPv4 addresses come from the RFC 5737 documentation ranges, IPv6 from
``2001:db8::/32``, US phone numbers use the 555-01XX fiction range, SSNs start with 9 (never
issued). Card numbers keep their network's first digit and length and pass the Luhn check.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import string
from collections.abc import Callable, Sequence

FIRST_NAMES = [
    "Alex",
    "Amira",
    "Ana",
    "Andrei",
    "Aoife",
    "Arjun",
    "Beatriz",
    "Bilal",
    "Camille",
    "Carlos",
    "Chen",
    "Chloe",
    "Dara",
    "David",
    "Diego",
    "Elena",
    "Emeka",
    "Emma",
    "Farah",
    "Felix",
    "Fatima",
    "Gabriel",
    "Grace",
    "Hana",
    "Hugo",
    "Ines",
    "Ivan",
    "Jamal",
    "Jana",
    "Jonas",
    "Julia",
    "Kai",
    "Kenji",
    "Lara",
    "Leon",
    "Lina",
    "Lucas",
    "Maya",
    "Mateo",
    "Mei",
    "Mila",
    "Nadia",
    "Noah",
    "Nora",
    "Omar",
    "Oscar",
    "Priya",
    "Rafael",
    "Rosa",
    "Ruth",
    "Sami",
    "Sara",
    "Sofia",
    "Tariq",
    "Tess",
    "Theo",
    "Uma",
    "Victor",
    "Wen",
    "Yara",
    "Yusuf",
    "Zoe",
    "Zara",
]
LAST_NAMES = [
    "Abbott",
    "Adeyemi",
    "Alvarez",
    "Andersen",
    "Bauer",
    "Becker",
    "Brennan",
    "Castillo",
    "Chandra",
    "Costa",
    "Dalton",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Foster",
    "Garcia",
    "Greene",
    "Haddad",
    "Hartley",
    "Herrera",
    "Ibrahim",
    "Jansen",
    "Kapoor",
    "Keller",
    "Kim",
    "Kowalski",
    "Larsen",
    "Lindqvist",
    "Lopez",
    "Marsh",
    "Mendes",
    "Moreau",
    "Nakamura",
    "Novak",
    "Okafor",
    "Olsen",
    "Ortiz",
    "Park",
    "Petrov",
    "Quinn",
    "Ramos",
    "Reyes",
    "Rossi",
    "Sato",
    "Schmidt",
    "Silva",
    "Sokolov",
    "Suzuki",
    "Tanaka",
    "Torres",
    "Varga",
    "Vogel",
    "Walsh",
    "Weber",
    "Whitfield",
    "Yilmaz",
    "Young",
    "Zhang",
    "Ziegler",
]
STREETS = [
    "Maple",
    "Oak",
    "Cedar",
    "Willow",
    "Elm",
    "Birch",
    "Chestnut",
    "Juniper",
    "Laurel",
    "Hawthorn",
    "Aspen",
    "Linden",
    "Rowan",
    "Magnolia",
    "Sycamore",
    "Poplar",
    "Alder",
    "Holly",
    "Hazel",
    "Spruce",
]
STREET_TYPES = ["Street", "Avenue", "Road", "Lane", "Drive", "Court", "Place", "Terrace", "Way"]
CITIES = [
    "Springfield",
    "Riverton",
    "Fairview",
    "Lakeside",
    "Greenville",
    "Bridgeport",
    "Ashford",
    "Kingsbury",
    "Millbrook",
    "Oakridge",
    "Westfield",
    "Brookhaven",
    "Clearwater",
    "Elmstead",
    "Harborview",
    "Northwood",
    "Redfield",
    "Stonebridge",
]


class _Stream:
    """An endless deterministic byte stream from a seed (HMAC-SHA256 in counter mode)."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._counter = 0
        self._buf = b""

    def byte(self) -> int:
        if not self._buf:
            self._buf = hmac.new(
                self._seed, self._counter.to_bytes(8, "big"), hashlib.sha256
            ).digest()
            self._counter += 1
        b, self._buf = self._buf[0], self._buf[1:]
        return b

    def below(self, n: int) -> int:
        """Uniform in [0, n) by rejection sampling over enough bytes for ``n``."""
        width = max(1, (n - 1).bit_length() + 7 >> 3)
        span = 256**width
        limit = span - span % n
        while True:
            value = int.from_bytes(bytes(self.byte() for _ in range(width)), "big")
            if value < limit:
                return value % n

    def choice(self, items: Sequence[str]) -> str:
        value = int.from_bytes(bytes(self.byte() for _ in range(4)), "big")
        return items[value % len(items)]

    def digit(self) -> str:
        return str(self.below(10))


def _match_case(template: str, value: str) -> str:
    letters = [c for c in template if c.isalpha()]
    if letters and all(c.isupper() for c in letters) and len(letters) > 1:
        return value.upper()
    if letters and all(c.islower() for c in letters):
        return value.lower()
    return value


def luhn_check_digit(partial: str) -> str:
    """The digit that makes ``partial + digit`` pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    digits = [c for c in number if c.isdigit()]
    return len(digits) > 1 and luhn_check_digit("".join(digits[:-1])) == digits[-1]


def _replace_digits(value: str, new_digits: str) -> str:
    it = iter(new_digits)
    return "".join(next(it) if c.isdigit() else c for c in value)


def _person(value: str, rnd: _Stream) -> str:
    words = value.split()
    first, last = rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES)
    if len(words) <= 1:
        out = last if value[:1].isupper() and len(value) > 1 and value[1:2] == "." else first
    elif len(words) == 2:
        out = f"{first} {last}"
    else:
        out = f"{first} {string.ascii_uppercase[rnd.below(26)]}. {last}"
    return _match_case(value, out)


def _email(rnd: _Stream) -> str:
    first, last = rnd.choice(FIRST_NAMES).lower(), rnd.choice(LAST_NAMES).lower()
    return f"{first}.{last}{rnd.below(100)}@example.{rnd.choice(('com', 'org', 'net'))}"


def _phone(value: str, rnd: _Stream) -> str:
    digits = [c for c in value if c.isdigit()]
    keep = 0
    if value.lstrip().startswith("+"):
        # keep the country code (up to the first separator) so the format stays plausible
        head = value.lstrip()[1:]
        keep = len(head) - len(head.lstrip("0123456789"))
        keep = min(keep, 3)
    elif len(digits) == 11 and digits[0] == "1":
        keep = 1
    rest = len(digits) - keep
    if rest == 10 and (keep == 0 or digits[:keep] == ["1"]):
        # North American number: NXX-555-01XX, the range reserved for fiction.
        new = [str(2 + rnd.below(8)), rnd.digit(), rnd.digit(), "5", "5", "5", "0", "1"]
        new += [rnd.digit(), rnd.digit()]
    else:
        new = [rnd.digit() for _ in range(rest)]
    return _replace_digits(value, "".join(digits[:keep]) + "".join(new))


def _card(value: str, rnd: _Stream) -> str:
    digits = [c for c in value if c.isdigit()]
    if len(digits) < 12:
        return _replace_digits(value, "".join(rnd.digit() for _ in digits))
    body = digits[0] + "".join(rnd.digit() for _ in range(len(digits) - 2))
    return _replace_digits(value, body + luhn_check_digit(body))


def _ssn(value: str, rnd: _Stream) -> str:
    digits = [c for c in value if c.isdigit()]
    new = "9" + "".join(rnd.digit() for _ in range(max(len(digits) - 1, 0)))
    return _replace_digits(value, new[: len(digits)])


def _iban(value: str, rnd: _Stream) -> str:
    compact = "".join(c for c in value if c.isalnum()).upper()
    if len(compact) < 5 or not compact[:2].isalpha():
        return _generic(value, rnd)
    country = compact[:2]
    bban = "".join(c if c.isalpha() else rnd.digit() for c in compact[4:])
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = f"{98 - int(numeric) % 97:02d}"
    new = country + check + bban
    it = iter(new)
    return "".join(next(it) if c.isalnum() else c for c in value)


def _ip(value: str, rnd: _Stream) -> str:
    if ":" in value:
        return "2001:db8::" + f"{rnd.below(256):x}{rnd.below(256):02x}"
    net = rnd.choice(("192.0.2", "198.51.100", "203.0.113"))
    return f"{net}.{1 + rnd.below(254)}"


def _url(value: str, rnd: _Stream) -> str:
    scheme = "https://" if value.lower().startswith("https") else "http://"
    if "://" not in value:
        scheme = "www." if value.lower().startswith("www.") else ""
    token = "".join(rnd.choice(string.ascii_lowercase) for _ in range(6))
    host = f"{token}.example.{rnd.choice(('com', 'org', 'net'))}"
    return scheme + host + ("/" if value.endswith("/") else "")


def _location(value: str, rnd: _Stream) -> str:
    if value[:1].isdigit():
        out = f"{1 + rnd.below(250) * 4} {rnd.choice(STREETS)} {rnd.choice(STREET_TYPES)}"
    else:
        out = rnd.choice(CITIES)
    return _match_case(value, out)


def _generic(value: str, rnd: _Stream) -> str:
    """Format-preserving: letters stay letters (same case), digits stay digits."""
    out = []
    for c in value:
        if c.isdigit():
            out.append(rnd.digit())
        elif c.isascii() and c.isalpha():
            letter = string.ascii_lowercase[rnd.below(26)]
            out.append(letter.upper() if c.isupper() else letter)
        else:
            out.append(c)
    return "".join(out)


_MONTHS = [
    *("January", "February", "March", "April", "May", "June", "July", "August"),
    *("September", "October", "November", "December"),
]
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_DATE_TOKEN = re.compile(r"[A-Za-z]+|\d+|[^A-Za-z\d]+")


def _date_word(word: str, rnd: _Stream) -> str:
    """A month or weekday name (full or three-letter, any case) becomes another of its kind."""
    for names in (_MONTHS, _WEEKDAYS):
        for name in names:
            if word.lower() in (name.lower(), name[:3].lower()):
                new = rnd.choice(names)
                return _match_case(word, new if len(word) > 3 else new[:3])
    # linking words ("on", "at", "of") say nothing; other names ("Christmas") are disguised
    return word if word.islower() else _generic(word, rnd)


def _date(value: str, rnd: _Stream) -> str:
    """A date or time of the same shape: month and weekday names stay names, numbers of one or
    two digits become 1-12 (a valid day, month, hour and minute alike, same width), four-digit
    years stay years (1900-2029), separators stay."""
    out = []
    for tok in _DATE_TOKEN.findall(value):
        if tok.isdigit() and len(tok) <= 2:
            out.append(str(1 + rnd.below(12)).zfill(len(tok)))
        elif tok.isdigit() and len(tok) == 4:
            out.append(str(1900 + rnd.below(130)))
        elif tok.isalpha():
            out.append(_date_word(tok, rnd))
        else:
            out.append(_generic(tok, rnd))
    return "".join(out)


def _age_over_89(value: str, rnd: _Stream) -> str:
    # Safe Harbor aggregates every age over 89 into one category, 90 or older.
    return "90"


_BY_TYPE: dict[str, Callable[[str, _Stream], str]] = {
    "PERSON": _person,
    "EMAIL_ADDRESS": lambda value, rnd: _email(rnd),
    "PHONE_NUMBER": _phone,
    "CREDIT_CARD": _card,
    "US_SSN": _ssn,
    "IBAN_CODE": _iban,
    "IP_ADDRESS": _ip,
    "URL": _url,
    "LOCATION": _location,
    "DATE_TIME": _date,
    "AGE_OVER_89": _age_over_89,
}


def surrogate(entity_type: str, value: str, seed: bytes) -> str:
    """A fake ``entity_type`` value shaped like ``value``, drawn from ``seed`` (the keyed
    hash of the normalized value: same seed, same surrogate)."""
    return _BY_TYPE.get(entity_type, _generic)(value, _Stream(seed))
