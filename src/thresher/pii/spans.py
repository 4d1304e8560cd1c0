"""From overlapping detections to the spans to replace: ``resolve``.

Presidio's recognizers propose overlapping, sometimes wrong spans. ``resolve`` removes the
known false positives (URLs inside e-mail addresses, DATE_TIME on IP addresses, UK_NHS on
US-formatted phone numbers, e-mails and URLs that are credentials, addresses that start inside
a phone number, names without a letter, numeric dates as places), merges overlaps of one
type, and keeps a non-overlapping set: higher score, then the longer span, then the earlier
one. Deterministic for any input order; O(n log n), since documents can hold many thousands
of detections.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence

import regex

from thresher.pii.operators import Detection

_US_PHONE = re.compile(r"^\(?\d{3}\)?[\s.\-]?\d{3}[\s.\-]\d{4}$")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_NUMERIC_DATE = re.compile(r"^\d{1,2}/\d{1,2}/\d{2,4}$")
_ADDRESS_TAIL = regex.compile(
    r"\s+(?:Apt|Apartment|Suite|Unit|Flat|Street|St|Road|Rd|Avenue|Ave|Lane|Strasse|Straße)\.?$"
)
_SECRET_TYPES = ("PASSWORD", "API_KEY", "JWT")


class Spans:
    """Static interval queries in O(log n): spans sorted by start with prefix maxima of ends
    (pairwise checks would be quadratic)."""

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


class _FalsePositives:
    """The known false positives among one document's detections."""

    def __init__(self, text: str, dets: Sequence[Detection]) -> None:
        self.text = text
        self.emails = Spans(d for d in dets if d.entity_type == "EMAIL_ADDRESS")
        self.ips = Spans(d for d in dets if d.entity_type == "IP_ADDRESS")
        self.phones = Spans(d for d in dets if d.entity_type == "PHONE_NUMBER")
        self.secrets = Spans(d for d in dets if d.entity_type in _SECRET_TYPES)

    def __contains__(self, d: Detection) -> bool:
        value = self.text[d.start : d.end].strip()
        if d.entity_type in ("EMAIL_ADDRESS", "URL") and self.secrets.overlaps(d):
            return True  # "user:secret@host" is a credential in a URL, not an e-mail address
        if d.entity_type == "URL":
            return self.emails.covers(d)  # the domain of an e-mail address is not a URL
        if d.entity_type == "DATE_TIME":
            return self.ips.overlaps(d) or _IPV4.match(value) is not None  # "10.1.2.3"
        if d.entity_type == "UK_NHS":  # 10 digits in 3-3-4 groups is a US phone number
            return self.phones.overlaps(d) or _US_PHONE.match(value) is not None
        if d.entity_type == "PERSON" and not any(c.isalpha() for c in value):
            return True  # "01/27/2010" (spaCy's NER on docket text): a name has letters
        if d.entity_type == "LOCATION" and _NUMERIC_DATE.match(value):
            return True  # "01/12/2010"; a ZIP code (digits only) stays a place
        if d.entity_type == "LOCATION" and d.start > 0:
            # no address starts inside a phone number ("602-258-8900 EXT 165" read as the
            # house number 8900 of a street "EXT"): winning on score, it left "602-258-" behind
            return self.phones.covers(Detection(d.start - 1, d.start + 1, d.entity_type, 0.0))
        return False


def trim_person(text: str, d: Detection) -> Detection:
    """A name without the address word NER ran it into: ``Barbara Yudina Apt`` ->
    ``Barbara Yudina``."""
    m = _ADDRESS_TAIL.search(text, d.start, d.end)
    if m and m.start() > d.start:
        return Detection(d.start, m.start(), d.entity_type, d.score)
    return d


def _rank(d: Detection) -> tuple[float, int, int, str]:
    return (-d.score, -(d.end - d.start), d.start, d.entity_type)


def resolve(text: str, detections: Iterable[Detection]) -> list[Detection]:
    """Remove known false positives, then keep a non-overlapping set: higher score wins, then
    the longer span, then the earlier one. Deterministic for any input order; O(n log n).
    The result is sorted by position."""
    dets = list(detections)
    false_positives = _FalsePositives(text, dets)
    kept = [
        trim_person(text, d) if d.entity_type == "PERSON" else d
        for d in dets
        if d not in false_positives
    ]
    merged = merge_same_type(kept)
    kept = [m for m, _ in merged]
    # When a union loses to an overlapping detection of another type, its parts still compete
    # on their own: Presidio's phone matcher can propose one long bogus span over a card, an
    # IP address and a real phone number; losing the union as a whole to the card left the
    # real number in the output (found by the property "no pattern PII survives").
    parts_of = {m: parts for m, parts in merged if len(parts) > 1}

    # A detection inside a longer one of another type loses to it whatever the scores ("Glyn
    # St" as a name inside the address "1668 Glyn St"): replacing the longer span removes both.
    all_spans = Spans(kept)
    inner = [d for d in kept if all_spans.strictly_covers(d)]
    outer = [d for d in kept if not all_spans.strictly_covers(d)]
    chosen = _Chosen()
    for d in [*sorted(outer, key=_rank), *sorted(inner, key=_rank)]:
        # (inner ones last: an inner detection whose container lost to a third one still counts)
        if not chosen.add_if_free(d):
            for part in sorted(parts_of.get(d, ()), key=_rank):
                chosen.add_if_free(part)
    return chosen.items


def merge_same_type(dets: list[Detection]) -> list[tuple[Detection, list[Detection]]]:
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


def blank(text: str, dets: Iterable[Detection]) -> str:
    """``text`` with the spans of ``dets`` replaced by spaces (same length, so the rest keeps
    its offsets)."""
    chars = list(text)
    for d in dets:
        chars[d.start : d.end] = " " * (d.end - d.start)
    return "".join(chars)


def shift(dets: Iterable[Detection], offset: int) -> list[Detection]:
    """``dets`` found in a piece of a text, as offsets in the text (the piece starts at
    ``offset``)."""
    return [Detection(d.start + offset, d.end + offset, d.entity_type, d.score) for d in dets]
