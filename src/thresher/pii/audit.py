"""``thresher audit DIR``: how much PII is left in an output, and how much would be caught.

Two measurements, written into the output's ``manifest.json`` under ``audit``:

- **Residual PII**: a sample of kept records is rescanned with a high-recall configuration
  (every segment through the full spaCy pipeline, no skipping, a lower score threshold). A
  detection that does not lie on a recorded replacement (``pii`` column) is residual. Reported
  per entity type: the fraction of sampled records with at least one residual, with a 95%
  Wilson interval, and the records to look at (id, field, type, offsets; never text). A
  conversation is rescanned turn by turn from the ``messages`` column (field ``messages.<i>``,
  offsets in that turn, its role named), and the turns with a residual are counted per role.
- **Canary recall**: synthetic PII values (names, e-mails, phones, cards, SSNs, IPs, IBANs, API
  keys, URLs) are injected into copies of sampled records, the copies go through the same
  anonymization as the run (its recipe, an ephemeral key), and the fraction of canary values
  that no longer appear in the output is reported per type, with its interval. In a
  conversation the canaries go into its middle turn.

Deterministic for a given output and ``seed``: samples are chosen by a keyed hash of the ids.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import secrets
from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from thresher.config import PiiConfig, PipelineConfig
from thresher.output import fs, layout, read_manifest
from thresher.output.manifest import rewrite_manifest
from thresher.pii.process import turn_field
from thresher.pii.surrogates import FIRST_NAMES, LAST_NAMES, _Stream, luhn_check_digit
from thresher.records import Document, Turn, chat_document

AUDIT_THRESHOLD = 0.25
MAX_REVIEW = 200


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (sound at 0 and n, unlike the normal one)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))


def _rank(seed: int, salt: str, record_id: str) -> str:
    return hashlib.blake2b(f"{seed}\x00{salt}\x00{record_id}".encode(), digest_size=8).hexdigest()


def _sample(out_dir: str, seed: int, salt: str, n: int) -> tuple[list[dict[str, Any]], int]:
    """The ``n`` records with the smallest keyed rank, and the total count. Reads the ids of
    every shard but the texts of the chosen records only."""
    shards = layout.shards(out_dir, layout.DATA)
    ranked: list[tuple[str, str]] = []
    for shard in shards:
        ids = fs.read_table(shard, columns=["id"]).column("id").to_pylist()
        ranked.extend((_rank(seed, salt, i), i) for i in ids)
    total = len(ranked)
    chosen = {i for _, i in heapq.nsmallest(n, ranked)}
    rows: list[dict[str, Any]] = []
    for shard in shards:
        table = _read_rows(shard, ["id", "text", "meta", "pii", "messages"])
        mask = pc.is_in(table.column("id"), value_set=pa.array(sorted(chosen), pa.string()))
        rows.extend(table.filter(mask).to_pylist())
    rows.sort(key=lambda r: _rank(seed, salt, r["id"]))
    return rows, total


def _read_rows(shard: str, columns: list[str]) -> pa.Table:
    """``columns`` of ``shard``, those it has: outputs written before ``document/2`` have no
    ``messages`` column (every row a document)."""
    table = fs.read_table(shard)
    return table.select([c for c in columns if c in table.column_names])


def _units(row: dict[str, Any]) -> list[tuple[str | None, str | None, str]]:
    """What the audit rescans in one output row, as (finding field, role, text): the text of a
    document, or each turn of a conversation (``messages.<i>``, its role, its content); the
    derived ``text`` of a conversation is not scanned (its turns are)."""
    turns = row.get("messages") or []
    if not turns:
        return [(None, None, row["text"])]
    return [(turn_field(i), t["role"], t["content"]) for i, t in enumerate(turns)]


# ------------------------------------------------------------------------------ canaries
def canary_values(rnd: _Stream) -> dict[str, str]:
    """One synthetic value per type, drawn from ``rnd``; formats the recognizers target."""
    d = rnd.digit
    body = "4" + "".join(d() for _ in range(14))
    card = body + luhn_check_digit(body)
    bban = "".join(d() for _ in range(18))
    numeric = "".join(str(int(c, 36)) for c in bban + "DE00")
    iban = f"DE{98 - int(numeric) % 97:02d}{bban}"
    area = 100 + rnd.below(200) * 2 + rnd.below(2)
    first, last = rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES)
    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    key = "".join(alnum[rnd.below(62)] for _ in range(36))
    return {
        "PERSON": f"{first} {last}",
        "EMAIL_ADDRESS": f"{first.lower()}.{last.lower()}{rnd.below(100)}@mailbox-{d()}{d()}.com",
        "PHONE_NUMBER": f"({2 + rnd.below(7)}{d()}{d()}) {2 + rnd.below(7)}{d()}{d()}-"
        + "".join(d() for _ in range(4)),
        "CREDIT_CARD": " ".join(card[i : i + 4] for i in range(0, 16, 4)),
        "US_SSN": f"{area:03d}-{10 + rnd.below(80):02d}-{1000 + rnd.below(8999):04d}",
        "IP_ADDRESS": ".".join(
            str(x)
            for x in (11 + rnd.below(150), rnd.below(250), rnd.below(250), 1 + rnd.below(250))
        ),
        "IBAN_CODE": iban,
        "API_KEY": "ghp_" + key,
        "URL": f"https://www.{last.lower()}-{first.lower()}.net/profile",
    }


CANARY_TEMPLATE = (
    "Please contact {PERSON} at {EMAIL_ADDRESS} or call {PHONE_NUMBER}. "
    "Card {CREDIT_CARD}, SSN {US_SSN}, IBAN {IBAN_CODE}. "
    "Logged in from {IP_ADDRESS} with token {API_KEY}; profile at {URL}."
)


def _residual(cfg: PiiConfig, scanned: list[dict[str, Any]], total_rows: int) -> dict[str, Any]:
    """Residual PII in the ``scanned`` rows, high recall: every detection that does not lie on
    a recorded replacement of the same field. A conversation's turns are rescanned together
    (one unit of mention propagation, as in the run), each against its own findings; runs
    with conversations add ``roles``: turns scanned and turns with a residual, per role."""
    from thresher.pii.analyzer import PiiAnalyzer

    analyzer = PiiAnalyzer(
        cfg, fast=False, score_threshold=min(cfg.score_threshold, AUDIT_THRESHOLD)
    )
    units = [_units(row) for row in scanned]
    detections = analyzer.analyze_groups([[text for _, _, text in u] for u in units])
    hit_types: dict[str, set[int]] = {}
    review: list[dict[str, Any]] = []
    roles: dict[str, Counter[str]] = {}
    for i, (row, unit, found) in enumerate(zip(scanned, units, detections, strict=True)):
        for (field, role, _text), dets in zip(unit, found, strict=True):
            residual = _off_replacements(row, field, dets)
            for d in residual:
                hit_types.setdefault(d.entity_type, set()).add(i)
                if len(review) < MAX_REVIEW:
                    review.append(_review_entry(row["id"], field, role, d))
            if role is not None:
                roles.setdefault(role, Counter()).update(
                    {"turns": 1, "turns_with_residual": int(bool(residual))}
                )
    n = len(scanned)
    any_hit = set().union(*hit_types.values()) if hit_types else set()
    result = {
        "records_scanned": n,
        "records_total": total_rows,
        "score_threshold": min(cfg.score_threshold, AUDIT_THRESHOLD),
        "rate": {
            t: {"records": len(ids), "rate": round(len(ids) / n, 4), "ci95": wilson(len(ids), n)}
            for t, ids in sorted(hit_types.items())
        },
        "any": {
            "records": len(any_hit),
            "rate": round(len(any_hit) / n, 4) if n else 0.0,
            "ci95": wilson(len(any_hit), n),
        },
        "review": review,
    }
    if roles:  # only outputs with conversations: a document audit's result is unchanged
        result["roles"] = {role: _turn_rate(c) for role, c in sorted(roles.items())}
    return result


def _off_replacements(row: dict[str, Any], field: str | None, dets: list[Any]) -> list[Any]:
    """The detections in ``field`` of ``row`` that lie on no recorded replacement there."""
    replaced = [(f["start"], f["end"]) for f in row["pii"] or [] if f["field"] == field]
    return [d for d in dets if not any(s < d.end and d.start < e for s, e in replaced)]


def _review_entry(record_id: str, field: str | None, role: str | None, d: Any) -> dict[str, Any]:
    """One flagged span for review: where it is (a turn's entry names its role), never what."""
    entry = {
        "id": record_id,
        "field": field,
        "entity_type": d.entity_type,
        "start": d.start,
        "end": d.end,
        "score": round(d.score, 3),
    }
    if role is not None:
        entry["role"] = role
    return entry


def _turn_rate(counts: Counter[str]) -> dict[str, Any]:
    n, hit = counts["turns"], counts["turns_with_residual"]
    return {
        "turns": n,
        "turns_with_residual": hit,
        "rate": round(hit / n, 4) if n else 0.0,
        "ci95": wilson(hit, n),
    }


def _with_canaries(k: int, row: dict[str, Any], sentence: str) -> Document:
    """A copy of output ``row`` with the canary ``sentence`` planted after a paragraph break in
    the second half of its text, or, for a conversation, of its middle turn's content."""

    def plant(text: str) -> str:
        cut = text.find("\n\n", len(text) // 2)
        cut = len(text) if cut < 0 else cut
        return text[:cut] + "\n\n" + sentence + text[cut:]

    turns = row.get("messages") or []
    if not turns:
        return Document(id=f"canary-{k}", text=plant(row["text"]), source="audit", position=k)
    middle = len(turns) // 2
    planted = tuple(
        Turn(t["role"], plant(t["content"]) if i == middle else t["content"])
        for i, t in enumerate(turns)
    )
    return chat_document(f"canary-{k}", "audit", k, planted)


def audit(
    out_dir: str, sample: int = 1000, canaries: int = 100, seed: int = 0, write: bool = True
) -> dict[str, Any]:
    """Run both measurements on ``out_dir`` and (by default) record them in its manifest."""
    from thresher.pii.keys import PiiKeys
    from thresher.pii.process import PiiProcessor

    manifest = read_manifest(out_dir)
    cfg = PipelineConfig.model_validate(manifest.recipe).pii
    scanned, total_rows = _sample(out_dir, seed, "residual", sample)
    residual = _residual(cfg, scanned, total_rows)

    # -- canary recall ---------------------------------------------------------------
    proc = PiiProcessor(cfg, PiiKeys(master=secrets.token_bytes(32)))
    picks, _ = _sample(out_dir, seed, "canary", canaries)
    docs = []
    planted: list[dict[str, str]] = []
    for k, row in enumerate(picks):
        rnd = _Stream(hashlib.sha256(f"canary\x00{seed}\x00{k}".encode()).digest())
        values = {t: v for t, v in canary_values(rnd).items()}
        docs.append(_with_canaries(k, row, CANARY_TEMPLATE.format(**values)))
        planted.append({t: v for t, v in values.items() if t in cfg.entities})
    caught: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for start in range(0, len(docs), cfg.batch_size):
        out, _ = proc.process(docs[start : start + cfg.batch_size])
        for doc, values in zip(out, planted[start : start + cfg.batch_size], strict=True):
            for t, v in values.items():
                total[t] += 1
                caught[t] += v not in doc.text  # a conversation's text holds every turn
    canary = {
        "records": len(docs),
        "recall": {
            t: {
                "caught": caught[t],
                "planted": total[t],
                "recall": round(caught[t] / total[t], 4),
                "ci95": wilson(caught[t], total[t]),
            }
            for t in sorted(total)
        },
        "overall": {
            "caught": sum(caught.values()),
            "planted": sum(total.values()),
            "recall": round(sum(caught.values()) / max(1, sum(total.values())), 4),
            "ci95": wilson(sum(caught.values()), sum(total.values())),
        },
    }
    result = {"seed": seed, "residual": residual, "canary": canary}
    if write:
        rewrite_manifest(out_dir, audit=json.loads(json.dumps(result)))
        from thresher.report import rerender

        rerender(out_dir)  # the report and card show the audit
    return result


def render(result: dict[str, Any]) -> str:
    """A short human summary of an audit (numbers and ids only)."""
    res, can = result["residual"], result["canary"]
    low, high = res["any"]["ci95"]
    lines = [
        f"residual PII: {res['any']['records']} of {res['records_scanned']} sampled records "
        f"({res['any']['rate']:.2%}, 95% CI {low:.2%}-{high:.2%})"
    ]
    for t, r in res["rate"].items():
        lines.append(
            f"  {t:<16}{r['records']:>6}  {r['rate']:.2%}  CI {r['ci95'][0]:.2%}-{r['ci95'][1]:.2%}"
        )
    for role, r in res.get("roles", {}).items():
        lines.append(
            f"  {role + ' turns':<16}{r['turns_with_residual']:>6} of {r['turns']}  "
            f"{r['rate']:.2%}  CI {r['ci95'][0]:.2%}-{r['ci95'][1]:.2%}"
        )
    ov = can["overall"]
    lines.append(
        f"canary recall: {ov['caught']} of {ov['planted']} ({ov['recall']:.2%}, "
        f"95% CI {ov['ci95'][0]:.2%}-{ov['ci95'][1]:.2%})"
    )
    for t, r in can["recall"].items():
        lines.append(f"  {t:<16}{r['caught']:>4}/{r['planted']:<4} {r['recall']:.2%}")
    if res["review"]:
        lines.append("records to look at (id field type start-end):")
        for r in res["review"][:20]:
            lines.append(f"  {r['id']} {_where(r)} {r['entity_type']} {r['start']}-{r['end']}")
    lines.append("written to manifest.json under `audit`")
    return "\n".join(lines)


def _where(entry: dict[str, Any]) -> str:
    """Where a flagged span lies: ``text``, a meta field, or a turn with its role."""
    if entry.get("role"):
        return f"{entry['field']} ({entry['role']})"
    return entry["field"] or "text"


CONTEXT_CHARS = 30


def _context(text: str, start: int, end: int) -> str:
    """The span between guillemets with a little text on each side, on one line."""
    left = max(0, start - CONTEXT_CHARS)
    right = min(len(text), end + CONTEXT_CHARS)
    snippet = (
        ("..." if left else "")
        + text[left:start]
        + "«"
        + text[start:end]
        + "»"
        + text[end:right]
        + ("..." if right < len(text) else "")
    )
    return " ".join(snippet.split())


def show_flagged(out_dir: str, result: dict[str, Any], limit: int) -> str:
    """Up to ``limit`` of the audit's flagged spans with their context, for a person to tell a
    false positive from a leak. Reads the flagged records' text back from ``data/``; the
    result is for the terminal only: callers never write it to a file, a log or the
    manifest (it is the text the audit found suspicious)."""
    review = result["residual"]["review"][: max(0, limit)]
    if not review:
        return "no flagged spans to show"
    wanted = sorted({r["id"] for r in review})
    texts: dict[tuple[str, str | None], str] = {}
    for shard in layout.shards(out_dir, layout.DATA):
        table = _read_rows(shard, ["id", "text", "messages"])
        mask = pc.is_in(table.column("id"), value_set=pa.array(wanted, pa.string()))
        for row in table.filter(mask).to_pylist():
            texts.update(((row["id"], field), text) for field, _, text in _units(row))
    lines = [f"flagged spans ({len(review)} shown; printed here only, never written):"]
    for k, r in enumerate(review, 1):
        text = texts.get((r["id"], r["field"]))
        where = f"{r['id']} {_where(r)}[{r['start']}:{r['end']}]"
        lines.append(f"{k:>3}. {r['entity_type']} (score {r['score']:.2f}) in {where}")
        lines.append(
            "     " + (_context(text, r["start"], r["end"]) if text is not None else "(gone)")
        )
    return "\n".join(lines)
