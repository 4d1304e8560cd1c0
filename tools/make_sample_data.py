"""Write ``sample_data/``: a small raw corpus with planted duplicates, noise, PII and bad records.

Deterministic (seeded): the same code writes the same bytes. Re-run it from the repository root
after changing it::

    .venv/bin/python -m tools.make_sample_data            # rewrites sample_data/
    .venv/bin/python -m tools.make_sample_data --out DIR  # writes DIR instead

An earlier output in the target directory is replaced; any other non-empty directory is refused.

``sample_data/_planted.json`` is the machine-readable truth that tests check against, and
``sample_data/README.md`` says the same for people. Files whose names start with ``_`` are skipped
by the readers (``input.exclude``).
"""

# The README template below holds Markdown table rows wider than the line limit.
# ruff: noqa: E501

from __future__ import annotations

import argparse
import bz2
import csv
import gzip
import io
import json
import random
import shutil
import unicodedata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard
from benchmarks.corpus import document, near_duplicate

from tools.sample_chat import write_chat

OUT = Path(__file__).resolve().parents[1] / "sample_data"

FRENCH = [
    "Le marché du village ouvre tous les samedis matin près de la vieille église.",
    "Les habitants y achètent des légumes frais, du fromage et du pain encore chaud.",
    "Depuis quelques années, de jeunes agriculteurs proposent aussi des produits biologiques.",
    "La mairie souhaite agrandir la place pour accueillir davantage de commerçants.",
    "Beaucoup de familles viennent passer la matinée entière à discuter entre voisins.",
    "En hiver, le marché se tient sous la halle couverte construite au siècle dernier.",
    "Le boulanger raconte qu'il se lève chaque nuit à trois heures pour préparer la pâte.",
    "Sa fille a ouvert une petite librairie juste à côté de la fontaine municipale.",
    "Les enfants de l'école voisine y viennent souvent choisir des bandes dessinées.",
    "Un festival de musique occupe la rue principale pendant tout le mois de juillet.",
    "Les visiteurs peuvent louer des vélos pour explorer les collines autour du village.",
    "Le soir, les terrasses des cafés restent pleines jusqu'à une heure très tardive.",
]
GERMAN = [
    "Die Bibliothek der Stadt wurde im letzten Jahr vollständig renoviert.",
    "Neben Büchern gibt es jetzt einen Lesesaal mit großen Fenstern zum Fluss.",
    "Viele Studierende arbeiten dort bis spät in den Abend an ihren Projekten.",
    "Die Leiterin der Bibliothek plant außerdem regelmäßige Lesungen für Kinder.",
    "Im Keller befindet sich ein Archiv mit alten Zeitungen und Landkarten.",
    "Der Eintritt ist frei, nur für die Ausleihe braucht man einen Ausweis.",
    "Am Wochenende findet auf dem Marktplatz ein kleiner Flohmarkt mit alten Möbeln statt.",
    "Die Bäckerei an der Ecke verkauft seit über hundert Jahren dasselbe Roggenbrot.",
    "Im Sommer fahren viele Familien mit dem Fahrrad an den nahe gelegenen See.",
    "Der neue Bahnhof verbindet die Altstadt endlich direkt mit dem Flughafen.",
    "Ein Verein pflegt die Wanderwege im Wald und stellt neue Schilder auf.",
    "Abends treffen sich die Nachbarn gern in der kleinen Weinstube am Fluss.",
]
SPANISH = [
    "El río atraviesa la ciudad de norte a sur y divide los barrios antiguos.",
    "Por las tardes, muchas personas caminan junto al agua para ver la puesta de sol.",
    "Los pescadores llegan temprano y venden su captura en el mercado del puerto.",
    "El ayuntamiento construyó un nuevo puente peatonal el año pasado.",
    "Durante las fiestas de verano, el paseo se llena de música y puestos de comida.",
    "Los turistas suelen alquilar bicicletas para recorrer la orilla completa.",
    "La biblioteca municipal organiza talleres de lectura para niños cada sábado.",
    "En la plaza mayor hay una fuente antigua donde se reúnen los vecinos.",
    "Un grupo de voluntarios limpia las playas del norte al final de cada mes.",
    "El museo de arte moderno abrió una sala dedicada a los pintores locales.",
    "Muchas familias cultivan tomates y pimientos en pequeños huertos urbanos.",
    "Por la noche, las calles del centro se llenan de gente que sale a cenar.",
]
BOILERPLATE = (
    "We use cookies to improve your experience. By continuing you accept our cookie policy.\n"
    "Privacy policy | Terms of use | Contact us\n"
    "Please enable javascript to view this page.\n"
)
LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt "
    "ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation."
)

# Synthetic PII only: reserved example domains, test card numbers (Luhn-valid), 555 phones,
# documentation IP ranges, invalid-by-construction SSNs area 9xx are avoided by Presidio, so we
# use the classic test SSN formats that Presidio accepts.
PII = [
    {"kind": "PERSON", "value": "Margaret Holloway"},
    {"kind": "EMAIL_ADDRESS", "value": "m.holloway@example.com"},
    {"kind": "PHONE_NUMBER", "value": "(415) 555-0132"},
    {"kind": "CREDIT_CARD", "value": "4111 1111 1111 1111"},
    {"kind": "US_SSN", "value": "536-22-8761"},
    {"kind": "IP_ADDRESS", "value": "203.0.113.42"},
    {"kind": "API_KEY", "value": "AKIAIOSFODNN7EXAMPLE"},
    {"kind": "PERSON", "value": "Tobias Lindqvist"},
    {"kind": "EMAIL_ADDRESS", "value": "tobias.lindqvist@example.org"},
    {"kind": "PHONE_NUMBER", "value": "+1 212-555-0199"},
    {"kind": "CREDIT_CARD", "value": "5555555555554444"},
    {"kind": "API_KEY", "value": "ghp_Zx8bQ2mN4kL7pR1sT5vW9yA3cE6gJ0hU2dF4"},
]


def pii_document(rng: random.Random, pii: dict) -> str:
    v = pii["value"]
    lead = {
        "PERSON": f"Yesterday {v} wrote to the committee about the schedule.",
        "EMAIL_ADDRESS": f"For questions about the schedule, write to {v} before Friday.",
        "PHONE_NUMBER": f"The front desk can be reached at {v} during office hours.",
        "CREDIT_CARD": f"The order was charged to card number {v} on the first of the month.",
        "US_SSN": f"The form listed social security number {v} next to the signature.",
        "IP_ADDRESS": f"The failed logins all came from the address {v} last night.",
        "API_KEY": f"Someone pasted the access key {v} into the public issue tracker.",
    }[pii["kind"]]
    return lead + "\n\n" + document(rng, 60, 120)


EVAL_FILE = "_eval_planted.jsonl"  # `_`: never read as corpus (input.exclude)


def _sentences(paragraph: str) -> list[str]:
    return [x if x.endswith(".") else x + "." for x in paragraph.split(". ") if x]


def planted_benchmark(crawl0: list[dict], notes: dict[str, str]) -> tuple[list[dict], dict]:
    """A small evaluation file for decontamination: two items whose questions genuinely occur
    in corpus documents (one verbatim, one in capitals with doubled spaces), one that occurs
    nowhere, and a short item (under 13 words) that occurs only inside a longer paragraph, so
    it must not match (short items match whole records or lines only)."""
    web = {d["id"]: d["text"] for d in crawl0}
    q1 = " ".join(_sentences(web["web-0070"].split("\n\n")[1])[:2])
    q2 = "  ".join(" ".join(_sentences(notes["note-002"])[2:4]).upper().split())
    short = _sentences(web["web-0071"].split("\n\n")[1])[0]
    items = [
        {"id": "planted-q1", "question": q1, "answer": "The guide took the valley road home."},
        {"id": "planted-q2", "question": q2, "answer": "It became tangy."},
        {
            "id": "planted-q3",
            "question": "Which lighthouse keeper painted the northern cliffs every winter "
            "before the ferries stopped running to the island?",
            "answer": "The keeper from the harbour village did.",
        },
        {"id": "planted-short", "question": short, "answer": "The stranger."},
    ]
    truth = {
        "file": EVAL_FILE,
        "fields": ["question", "answer"],
        "found": {"planted-q1": ["web-0070"], "planted-q2": ["note-002"]},
        "not_found": ["planted-q3", "planted-short"],
    }
    return items, truth


def _crawls(rng: random.Random) -> tuple[list[dict], list[dict]]:
    """The two web crawls' plain documents."""
    crawl0 = [
        {
            "id": f"web-{i:04d}",
            "text": document(rng),
            "url": f"https://example.com/p/{i}",
            "crawl_date": "2026-10-0" + str(1 + i % 9),
        }
        for i in range(230)
    ]
    crawl1 = [
        {
            "id": f"web-{1000 + i:04d}",
            "text": document(rng),
            "url": f"https://example.net/a/{i}",
            "crawl_date": "2026-11-0" + str(1 + i % 9),
        }
        for i in range(130)
    ]
    return crawl0, crawl1


def _plant_duplicates(
    rng: random.Random, crawl0: list[dict], crawl1: list[dict], planted: dict
) -> None:
    """Exact duplicates (identical, whitespace variants, Unicode-form variants, across files), a
    case variant, near duplicates (about 1% of words edited) and distinct pairs (40% edited)."""
    for k in range(6):
        src = crawl0[k]
        dup_same = {**src, "id": f"web-dup-{k}a", "url": src["url"] + "?ref=mirror"}
        dup_ws = {
            **src,
            "id": f"web-dup-{k}b",
            "text": "  " + src["text"].replace(" ", "  ", 3) + "\n\n",
        }
        crawl0.append(dup_same)
        crawl1.append(dup_ws)
        planted["exact_duplicate_groups"].append([src["id"], dup_same["id"], dup_ws["id"]])
    nfc = "The café on the corner serves crème brûlée and a naïve little rosé. " + document(
        rng, 60, 90
    )
    crawl0.append({"id": "web-nfc", "text": nfc})
    crawl1.append({"id": "web-nfd", "text": unicodedata.normalize("NFD", nfc)})
    planted["exact_duplicate_groups"].append(["web-nfc", "web-nfd"])
    # case variant: NOT an exact duplicate by default (dedup.exact.casefold: false)
    crawl0.append({"id": "web-case-a", "text": crawl0[20]["text"].upper()})
    planted["case_variant_pairs"].append([crawl0[20]["id"], "web-case-a"])
    for k in range(8):
        src = crawl0[30 + k]
        crawl1.append({"id": f"web-near-{k}", "text": near_duplicate(rng, src["text"], 0.01)})
        planted["near_duplicate_pairs"].append([src["id"], f"web-near-{k}"])
    for k in range(4):
        src = crawl0[50 + k]
        crawl1.append({"id": f"web-far-{k}", "text": near_duplicate(rng, src["text"], 0.4)})
        planted["distinct_pairs"].append([src["id"], f"web-far-{k}"])


def _plant_noise(crawl0: list[dict], crawl1: list[dict], planted: dict) -> None:
    """Boilerplate, noise and non-English documents."""
    for k in range(5):
        crawl0.append({"id": f"web-boiler-{k}", "text": BOILERPLATE + LOREM})
        planted["boilerplate_ids"].append(f"web-boiler-{k}")
    planted["exact_duplicate_groups"].append(list(planted["boilerplate_ids"]))
    noise = [
        "ok",
        "!!!! $$$ ### @@@ %%% ^^^ &&& *** ((( )))",
        "click here click here click here",
        "\n".join(["BUY NOW"] * 40),
        "asdf qwer zxcv " * 30,
    ]
    for k, t in enumerate(noise):
        crawl1.append({"id": f"web-noise-{k}", "text": t})
        planted["noise_ids"].append(f"web-noise-{k}")
    for lang, sents in (("fr", FRENCH), ("de", GERMAN), ("es", SPANISH)):
        for k in range(2):  # disjoint halves: other-language documents are not near duplicates
            picked = sents[6 * k : 6 * k + 6]
            crawl1.append({"id": f"web-{lang}-{k}", "text": " ".join(picked)})
            planted["non_english"].append({"id": f"web-{lang}-{k}", "language": lang})


def write_web(out: Path, rng: random.Random, planted: dict) -> list[dict]:
    """web/crawl-000.jsonl.gz and web/crawl-001.jsonl.zst; returns crawl 0's records."""
    crawl0, crawl1 = _crawls(rng)
    _plant_duplicates(rng, crawl0, crawl1, planted)
    _plant_noise(crawl0, crawl1, planted)
    for k, p in enumerate(PII):  # PII in web text
        rid = f"web-pii-{k}"
        crawl0.append({"id": rid, "text": pii_document(rng, p)})
        planted["pii"].append({"id": rid, "field": "text", **p})
    rng.shuffle(crawl0)
    rng.shuffle(crawl1)
    data0 = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in crawl0).encode()
    (out / "web" / "crawl-000.jsonl.gz").write_bytes(gzip.compress(data0, mtime=0))
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in crawl1).encode()
    (out / "web" / "crawl-001.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor(level=10).compress(data)
    )
    return crawl0


def write_forum(out: Path, rng: random.Random, planted: dict) -> None:
    """forum/posts.csv: quoted newlines, PII in a metadata column."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "author", "author_email", "created_at", "text"])
    for i in range(110):
        author = rng.choice(["Alice", "Bruno", "Chen", "Dana", "Elif"]) + f"{i % 7}"
        w.writerow(
            [
                f"forum-{i:03d}",
                author,
                f"{author.lower()}@example.com",
                f"2026-09-{1 + i % 28:02d}",
                document(rng, 60, 160),
            ]
        )
    w.writerow(
        [
            "forum-pii-0",
            "Rosa",
            "rosa.delgado@example.com",
            "2026-09-30",
            "Call me on (312) 555-0147 after six.\n\n" + document(rng, 60, 90),
        ]
    )
    planted["pii"].append(
        {"id": "forum-pii-0", "field": "text", "kind": "PHONE_NUMBER", "value": "(312) 555-0147"}
    )
    planted["pii"].append(
        {
            "id": "forum-pii-0",
            "field": "author_email",
            "kind": "EMAIL_ADDRESS",
            "value": "rosa.delgado@example.com",
        }
    )
    (out / "forum" / "posts.csv").write_text(buf.getvalue(), encoding="utf-8")


def write_wiki(out: Path, rng: random.Random, planted: dict, crawl0: list[dict]) -> None:
    """wiki/articles.parquet, with a mirror of crawl 0's first record."""
    rows = [
        {
            "id": f"wiki-{i:03d}",
            "title": f"Article {i}",
            "text": document(rng, 120, 300),
            "revision": 1000 + i,
        }
        for i in range(140)
    ]
    rows.append({"id": "wiki-dup-0", "title": "Mirror", "text": crawl0[0]["text"], "revision": 1})
    mirrored = (
        next(g for g in planted["exact_duplicate_groups"] if g[0] == crawl0[0]["id"])
        if any(g[0] == crawl0[0]["id"] for g in planted["exact_duplicate_groups"])
        else None
    )
    if mirrored is not None:
        mirrored.append("wiki-dup-0")
    else:
        planted["exact_duplicate_groups"].append([crawl0[0]["id"], "wiki-dup-0"])
    pq.write_table(pa.Table.from_pylist(rows), out / "wiki" / "articles.parquet")


def write_notes_and_books(out: Path, rng: random.Random) -> dict[str, str]:
    """notes/notes.tsv.bz2, and books/*.txt (one document per file, derived ids)."""
    lines = ["id\ttag\ttext"]
    notes: dict[str, str] = {}
    for i in range(50):
        lines.append(
            f"note-{i:03d}\t{rng.choice(['todo', 'idea', 'log'])}\t"
            + document(rng, 50, 90).replace("\n\n", " ")
        )
        notes[f"note-{i:03d}"] = lines[-1].split("\t", 2)[2]
    (out / "notes" / "notes.tsv.bz2").write_bytes(bz2.compress(("\n".join(lines) + "\n").encode()))
    for i in range(6):
        (out / "books" / f"chapter-{i:02d}.txt").write_text(
            document(rng, 250, 400), encoding="utf-8"
        )
    (out / "books" / "chapter-bom.txt").write_bytes(
        "\ufeff".encode() + document(rng, 200, 250).encode()
    )
    moji = "The caf\u00e9 menu listed cr\u00e8me br\u00fbl\u00e9e. " + document(rng, 100, 150)
    (out / "books" / "chapter-mojibake.txt").write_bytes(
        moji.encode("utf-8").decode("latin-1").encode("utf-8")
    )
    return notes


def write_malformed(out: Path, rng: random.Random, planted: dict) -> None:
    """malformed/: bad JSONL lines, a truncated gzip, an empty file, Parquet without text."""
    good = lambda n: json.dumps({"id": f"mal-good-{n}", "text": document(rng, 60, 100)}).encode()  # noqa: E731
    broken_lines = [
        ("\ufeff".encode() + good(0), None),
        (b'{"id": "mal-1", "text": "unterminated', "invalid_json"),
        (b'{"id": "mal-2", "text": "bad byte \xff here"}', "invalid_utf8"),
        (b'{"id": "mal-3", "body": "no text field"}', "missing_text"),
        (b'{"id": "mal-4", "text": null}', "null_text"),
        (b'{"id": "mal-5", "text": "   "}', "empty_text"),
        (b'{"id": "mal-6", "text": 42}', "invalid_text_type"),
        (b'["a", "list"]', "invalid_record"),
        (b'{"id": {"nested": 1}, "text": "wrong id type"}', "invalid_id_type"),
        (good(1), None),
    ]
    (out / "malformed" / "broken.jsonl").write_bytes(
        b"\n".join(line for line, _ in broken_lines) + b"\n"
    )
    for pos, (_, err) in enumerate(broken_lines):
        if err:
            planted["bad_records"].append(
                {"file": "malformed/broken.jsonl", "position": pos, "error_type": err}
            )
    trunc = "".join(
        json.dumps({"id": f"trunc-{i:02d}", "text": document(rng, 80, 120)}) + "\n"
        for i in range(30)
    )
    gz = gzip.compress(trunc.encode(), mtime=0)
    (out / "malformed" / "truncated.jsonl.gz").write_bytes(gz[: len(gz) // 2])
    planted["bad_records"].append(
        {"file": "malformed/truncated.jsonl.gz", "position": None, "error_type": "truncated_input"}
    )
    (out / "malformed" / "empty.jsonl").write_bytes(b"")
    pq.write_table(
        pa.Table.from_pylist([{"id": f"notext-{i}", "body": "x"} for i in range(3)]),
        out / "malformed" / "no_text.parquet",
    )
    for i in range(3):
        planted["bad_records"].append(
            {"file": "malformed/no_text.parquet", "position": i, "error_type": "missing_text"}
        )


def write_sample_data(out: Path) -> None:
    """Replace ``out`` with the sample corpus, ``_planted.json`` and ``README.md``."""
    rng = random.Random(20261126)
    if out.exists() and any(out.iterdir()) and not (out / "_planted.json").exists():
        raise SystemExit(f"{out} is not empty and holds no _planted.json: not replacing it")
    if out.exists():
        shutil.rmtree(out)
    for sub in ("web", "forum", "wiki", "notes", "books", "malformed"):
        (out / sub).mkdir(parents=True)
    planted: dict = {
        "exact_duplicate_groups": [],
        "near_duplicate_pairs": [],
        "distinct_pairs": [],
        "case_variant_pairs": [],
        "boilerplate_ids": [],
        "noise_ids": [],
        "non_english": [],
        "pii": [],
        "bad_records": [],
        "decontamination": {},
    }
    crawl0 = write_web(out, rng, planted)
    write_forum(out, rng, planted)
    write_wiki(out, rng, planted, crawl0)
    notes = write_notes_and_books(out, rng)
    write_malformed(out, rng, planted)
    write_chat(out, planted)
    # a benchmark for decontamination (not corpus: its name starts with `_`)
    items, planted["decontamination"] = planted_benchmark(crawl0, notes)
    (out / EVAL_FILE).write_text(
        "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8"
    )
    (out / "_planted.json").write_text(
        json.dumps(planted, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out / "README.md").write_text(readme(planted), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=OUT, help="directory to (re)write")
    out = ap.parse_args(argv).out
    write_sample_data(out)
    print(f"wrote {out}")


def readme(planted: dict) -> str:
    groups = "\n".join(f"  - {', '.join(g)}" for g in planted["exact_duplicate_groups"])
    near = "\n".join(f"  - {a} ~ {b}" for a, b in planted["near_duplicate_pairs"])
    far = "\n".join(f"  - {a} / {b}" for a, b in planted["distinct_pairs"])
    bad = "\n".join(
        f"  - `{b['file']}` position {b['position']}: `{b['error_type']}`"
        for b in planted["bad_records"]
    )
    pii = "\n".join(f"  - {p['id']} ({p['field']}): {p['kind']}" for p in planted["pii"])
    langs = ", ".join(f"{x['id']} ({x['language']})" for x in planted["non_english"])
    chat = planted["chat"]
    chat_dropped = ", ".join(f"{k} (`{v}`)" for k, v in chat["dropped"].items())
    chat_bad = "\n".join(
        f"  - `{b['file']}` position {b['position']}: {b['case']} (`{b['error_type']}`)"
        for b in chat["bad_records"]
    )
    dec = planted["decontamination"]
    found = ", ".join(f"{k} (in {', '.join(v)})" for k, v in dec["found"].items())
    return f"""# sample_data

A small synthetic raw corpus for `make run` and the end-to-end tests, written by
`tools/make_sample_data.py` (deterministic; re-run it after changing it). All text is
generated; all PII is synthetic (reserved example domains, 555 phone numbers, documentation IP
ranges, test card numbers, fake keys). `_planted.json` holds the same facts for tests; files
starting with `_` or `.` and `README*` are skipped by the default recipe.

| file | format | what |
|---|---|---|
| `web/crawl-000.jsonl.gz` | JSONL, gzip | web-like documents with `id`, `url`, `crawl_date` |
| `web/crawl-001.jsonl.zst` | JSONL, zstd | more web documents, cross-file duplicates, noise, other languages |
| `forum/posts.csv` | CSV | posts with quoted newlines; PII in the `author_email` column |
| `wiki/articles.parquet` | Parquet | articles with `title`, `revision` |
| `notes/notes.tsv.bz2` | TSV, bzip2 | short notes |
| `books/*.txt` | plain text | one document per file (derived ids); one with a UTF-8 BOM, one with mojibake |
| `malformed/` | mixed | bad records (below), a truncated gzip, an empty file, a Parquet file without a text column |
| `chat/openai.jsonl` | JSONL, `input.record: chat` | OpenAI / TRL `messages` conversations with ids |
| `chat/sharegpt.json` | JSON array, `input.record: chat` | ShareGPT `conversations` (`from`: `human`/`gpt`, `value`) |
| `chat/alpaca.json` | JSON array, `input.record: instruction` | Alpaca `instruction`/`input`/`output`, no ids |
| `_eval_planted.jsonl` | JSONL | not corpus: a small benchmark for decontamination (`question`, `answer`) |

## Planted
- Exact duplicate groups (identical, whitespace variants, NFC/NFD variants, across files; the
  kept one is the smallest source path and position):
{groups}
- Case variants that are *not* exact duplicates by default: {planted["case_variant_pairs"]}
- Near duplicates (about 1% of words edited):
{near}
- Pairs edited by 40% (must stay distinct):
{far}
- Boilerplate (cookie/privacy lines, javascript notice, lorem ipsum): {", ".join(planted["boilerplate_ids"])}
- Noise (very short, symbol spam, repeated lines): {", ".join(planted["noise_ids"])}
- Non-English: {langs}
- PII:
{pii}
- Bad records (each must be dead-lettered; good records around them kept):
{bad}
- Conversations (`chat/`, read by `input.per_file` in the default recipe):
  whitespace-only duplicates {", ".join(chat["exact_duplicates"][0])}; one prompt with three
  answers {", ".join(chat["same_prompt"])} (all kept by default, one with
  `dedup.exact.key: prompt`); a name and an e-mail address repeated across turns in
  {chat["pii_across_turns"]["id"]}; dropped: {chat_dropped}; bad records, each dead-lettered:
{chat_bad}
- Benchmark items (`{dec["file"]}`, decontaminated against by the default recipe): found in
  the corpus {found}; not found {", ".join(dec["not_found"])} (the short one occurs only inside
  a longer paragraph, and short items match whole records or lines only)
"""


if __name__ == "__main__":
    main()
