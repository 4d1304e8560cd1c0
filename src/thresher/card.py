"""``DIR/README.md``: a Hugging Face dataset card for the output, from the manifest.

The YAML header points the default config at ``data/*.parquet`` so ``datasets.load_dataset(DIR)``
loads the kept records. Names of keys may appear; key material never does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from thresher.output import Manifest, fs, layout, read_manifest
from thresher.paths import published_recipe
from thresher.schema import DOCUMENT_SCHEMA


def _size_category(n: int) -> str:
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if n < limit:
            return label
    return "n>10M"


def _enabled_steps(recipe: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The curation sections that ran, one per rule set (``filters.c4``, ``dedup.near``)."""
    steps: list[tuple[str, Mapping[str, Any]]] = []
    for name, section in recipe.items():
        if name in ("input", "output", "limits", "cost", "finetune"):
            continue  # not curation: where data comes from and goes, estimates, training
        if not isinstance(section, Mapping) or section.get("enabled") is False:
            continue
        subs = {k: v for k, v in section.items() if isinstance(v, Mapping) and "enabled" in v}
        rest = {k: v for k, v in section.items() if k not in subs}
        if set(rest) - {"enabled"} and (subs or "enabled" in section):
            steps.append((name, rest))
        steps += [(f"{name}.{sub}", inner) for sub, inner in subs.items() if inner["enabled"]]
    return steps


def _pct(rate: float) -> str:
    return f"{100 * rate:.2f}%"


def _interval(ci: Any) -> str:
    low, high = ci
    return f"{_pct(low)} to {_pct(high)}"


def _pii_lines(pii: Mapping[str, Any]) -> list[str]:
    entities = pii.get("entities", {})
    operators = pii.get("operators", {})
    lines = [
        "Personal data was detected with Microsoft Presidio and replaced before writing; the "
        "records keep only entity types, output spans and keyed hashes, never the values. "
        f"{pii.get('documents_with_pii', 0):,} of {pii.get('documents', 0):,} kept records had "
        f"at least one replacement ({sum(entities.values()):,} replacements; "
        f"{pii.get('findings_in_meta', 0):,} findings were in metadata fields).",
    ]
    if entities:
        lines += ["", "| entity type | replaced | operator |", "|---|---|---|"]
        lines += [
            f"| {t} | {n:,} | {operators.get(t, '')} |"
            for t, n in sorted(entities.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
    return lines


def _audit_lines(audit: Mapping[str, Any]) -> list[str]:
    """The audit's rates and intervals. Which records still hold PII, and where, stays in
    manifest.json and report.html: a published card never points at them."""
    res, can = audit["residual"], audit["canary"]
    anyr = res["any"]
    lines = [
        "### Audit",
        "",
        f"`thresher audit` rescanned {res['records_scanned']:,} of {res['records_total']:,} kept "
        f"records with a high-recall detector (score threshold {res['score_threshold']}). "
        f"{anyr['records']:,} of them ({_pct(anyr['rate'])}; 95% interval "
        f"{_interval(anyr['ci95'])}) still held something that looks like personal data.",
    ]
    if res["rate"]:
        lines += ["", "| entity type | records | rate | 95% interval |", "|---|---|---|---|"]
        lines += [
            f"| {t} | {r['records']:,} | {_pct(r['rate'])} | {_interval(r['ci95'])} |"
            for t, r in sorted(res["rate"].items())
        ]
    ov = can["overall"]
    lines += [
        "",
        f"Canary recall: synthetic values planted in copies of {can['records']:,} sampled "
        f"records went through the run's anonymization; {ov['caught']:,} of {ov['planted']:,} "
        f"were removed (recall {_pct(ov['recall'])}; 95% interval {_interval(ov['ci95'])}).",
    ]
    if can["recall"]:
        lines += ["", "| entity type | removed | planted | recall |", "|---|---|---|---|"]
        lines += [
            f"| {t} | {r['caught']:,} | {r['planted']:,} | {_pct(r['recall'])} |"
            for t, r in sorted(can["recall"].items())
        ]
    return lines


def _model_name(model: Any) -> str:
    # the ledger keeps the model's description (name, path, type); the card names it only
    if isinstance(model, Mapping):
        name, kind = model.get("name") or "?", model.get("model_type")
        return f"{name} ({kind})" if kind and kind != name else str(name)
    return str(model or "?")


def _ledger_lines(ledger: list[Mapping[str, Any]]) -> list[str]:
    eps = sum(float(r.get("epsilon") or 0.0) for r in ledger)
    delta = sum(float(r.get("delta") or 0.0) for r in ledger)
    lines = [
        "### Differentially private fine-tuning",
        "",
        f"{len(ledger)} fine-tuning run(s) on this dataset are recorded in "
        f"`privacy_ledger.json`: total epsilon {eps:.3f}, total delta {delta:.3g} (basic "
        "composition over all runs, an upper bound).",
        "",
        "| started | model | unit | epsilon | delta | steps | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in ledger:
        unit = r.get("unit") or "?"
        if r.get("unit_field"):
            unit = f"{unit} ({r['unit_field']})"
        lines.append(
            f"| {r.get('time', '?')} | {_model_name(r.get('model'))} | {unit} | "
            f"{float(r.get('epsilon') or 0.0):.3f} | {float(r.get('delta') or 0.0):.3g} | "
            f"{r.get('steps', '?')} | {r.get('status', '?')} |"
        )
    return lines


def _privacy(manifest: Mapping[str, Any], ledger: list[Mapping[str, Any]] | None) -> str:
    lines = ["## Privacy", ""]
    pii = manifest.get("pii")
    if pii:
        lines += _pii_lines(pii)
    else:
        pii_cfg = manifest.get("recipe", {}).get("pii")
        if pii_cfg is None or not pii_cfg.get("enabled", False):
            lines.append(
                "**PII anonymization was not part of this run.** The text may contain "
                "personal data exactly as it appeared in the sources."
            )
    audit = manifest.get("audit")
    if audit:
        lines += ["", *_audit_lines(audit)]
    elif pii:
        lines += ["", "No audit yet: `thresher audit DIR` measures residual PII and recall."]
    if ledger:
        lines += ["", *_ledger_lines(ledger)]
    return "\n".join(lines) + "\n"


def _value_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_value_text(v) for v in value) if value else "none"
    return str(value)


def _settings_text(params: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``key value`` pairs of a recipe section, nested keys dotted (no JSON in the card)."""
    out: list[str] = []
    for key, value in sorted(params.items()):
        if key == "enabled" and not prefix:
            continue
        if isinstance(value, Mapping):
            out += _settings_text(value, f"{prefix}{key}.") if value else [f"{prefix}{key} none"]
        else:
            out.append(f"{prefix}{key} {_value_text(value)}")
    return out


def _decontamination(manifest: Mapping[str, Any]) -> str:
    d = manifest.get("decontamination")
    if not d:
        return (
            "## Decontamination\n\nThis dataset was not decontaminated against evaluation "
            "benchmarks.\n\n"
        )
    benches = "; ".join(
        f"`{name}` ({b['items']:,} items, {b['items_found']:,} found in the sources: "
        f"{100 * b['contamination_rate']:.2f}%)"
        for name, b in sorted(d["benchmarks"].items())
    )
    verb = "dropped" if d["action"] == "drop" else "kept and annotated (signal `contaminated`)"
    return (
        f"## Decontamination\n\nDecontaminated against {benches}, by {d['ngram']}-word n-gram "
        "overlap (case, whitespace and punctuation ignored; items shorter than that matched "
        f"whole). {d['records_contaminated']:,} records holding benchmark items were {verb}; "
        "`lineage/` names the benchmark item for each.\n\n"
    )


def render(manifest: Mapping[str, Any], ledger: list[Mapping[str, Any]] | None = None) -> str:
    c = manifest["counts"]
    recipe = manifest["recipe"]
    header = [
        "---",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        "    path: data/*.parquet",
        "language:",
        "- en",
        "size_categories:",
        f"- {_size_category(c['kept'])}",
        "tags:",
        "- thresher",
        "- curated",
        "---",
    ]
    sources = "\n".join(
        f"| `{i.get('source') or i['path']}` | {i['size_bytes']:,} | {i['records']:,} |"
        for i in manifest["inputs"]
    )
    steps = "\n".join(
        f"- **{name}**: {'; '.join(_settings_text(params)).replace('|', '/')}"
        for name, params in _enabled_steps(published_recipe(recipe))
    )
    reasons = "\n".join(
        f"| {fate} | {reason} | {n:,} |"
        for fate in ("dropped", "duplicate", "dead_letter")
        for reason, n in sorted(c.get(f"{fate}_by_reason", {}).items())
    )
    body = f"""
# Curated dataset

Produced by thresher {manifest["thresher_version"]} on
{manifest["timings"].get("finished_at", "")} (recipe hash `{manifest["recipe_hash"][:16]}`). Every
input record is accounted for in `lineage/`: kept, dropped with a reason, removed as a duplicate of
a named record, or dead-lettered with its error (`dead_letter/`). `manifest.json` holds the full
recipe and the counts; `report.html` shows the run.

## Counts

| input | kept | dropped | duplicate | dead letter |
|---|---|---|---|---|
| {c["input"]:,} | {c["kept"]:,} | {c["dropped"]:,} | {c["duplicate"]:,} | {c["dead_letter"]:,} |

| fate | reason | records |
|---|---|---|
{reasons}

## Sources

| file | bytes | records |
|---|---|---|
{sources}

## Curation steps

{steps}

"""
    return (
        "\n".join(header)
        + "\n"
        + body
        + _columns(manifest)
        + _decontamination(manifest)
        + _privacy(manifest, ledger)
    )


def _record_kinds(manifest: Mapping[str, Any]) -> str:
    """What the kept records are: documents, conversations, or both, with counts."""
    kept = manifest["counts"]["kept"]
    chats = int((manifest.get("conversations") or {}).get("kept", 0))
    if not chats:
        return f"All {kept:,} kept records are documents: `messages` is null."
    if chats >= kept:
        return (
            f"All {kept:,} kept records are conversations: `messages` holds their turns and "
            "`text` their contents, blank-line separated."
        )
    return (
        f"{chats:,} of the {kept:,} kept records are conversations (`messages` holds their "
        "turns, `text` their contents, blank-line separated); the others are documents "
        "(`messages` null)."
    )


def _columns(manifest: Mapping[str, Any]) -> str:
    version = DOCUMENT_SCHEMA.metadata[b"thresher.schema"].decode()
    return f"""## Records

Schema `{version}` (`schemas/document.parquet-schema.json`). A record is a document (its `text`)
or a conversation: `messages`, a list of turns, each a `role` (`system`, `user`, `assistant`,
`tool`) and a `content`, the conversational format TRL reads as-is; its `text` is the turns'
contents, blank-line separated. {_record_kinds(manifest)}

Columns: `id`, `text`, `messages`, `source`, `position`, `meta` (the input's other fields as
JSON), `language`, `language_score`, `signals` (numeric annotations), `modifications` (rewrites
applied), `pii` (replacements made; a finding in a turn names it `messages.<i>`), and the
annotations later stages add. Load with `datasets.load_dataset(DIR)`, pandas or DuckDB;
`thresher export DIR --format openai|sharegpt|alpaca|text` writes trainer-ready JSONL.

"""


def read_ledger(out: str) -> list[Mapping[str, Any]] | None:
    path = layout.path(out, layout.LEDGER)
    if not fs.exists(path):
        return None
    data = fs.read_json(path)
    return data if isinstance(data, list) else None


def write_card(out: str, manifest: Manifest) -> str:
    """Render the dataset card from ``manifest`` (as saved) and the privacy ledger, atomically."""
    path = layout.path(out, layout.CARD)
    return fs.write_text_atomic(path, render(manifest.as_json(), read_ledger(out)))


def refresh_card(out: str) -> str | None:
    """Render ``DIR/README.md`` again from the saved manifest and the privacy ledger (after
    ``thresher finetune`` adds to the ledger). A directory that is not a thresher output has no
    card to keep current: None."""
    if not layout.is_output(out):
        return None
    try:
        manifest = read_manifest(out)
    except ValidationError:  # a manifest.json that `thresher run` did not write
        return None
    return write_card(out, manifest)
