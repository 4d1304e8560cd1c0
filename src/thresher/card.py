"""``DIR/README.md``: a Hugging Face dataset card for the output, from the manifest.

The YAML header points the default config at ``data/*.parquet`` so ``datasets.load_dataset(DIR)``
loads the kept records. Names of keys may appear; key material never does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from thresher.output import Manifest, fs, layout
from thresher.paths import published_recipe


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
    steps: list[tuple[str, Mapping[str, Any]]] = []
    for name, section in recipe.items():
        if name in ("input", "output", "limits"):
            continue
        if isinstance(section, Mapping) and "enabled" in section:
            if section["enabled"]:
                steps.append((name, section))
        elif isinstance(section, Mapping):
            for sub, inner in section.items():
                if isinstance(inner, Mapping) and inner.get("enabled"):
                    steps.append((f"{name}.{sub}", inner))
    return steps


def _privacy(manifest: Mapping[str, Any], ledger: list[Mapping[str, Any]] | None) -> str:
    lines = ["## Privacy", ""]
    pii = manifest.get("pii")
    if pii:
        lines.append(
            "Personal data was detected with Microsoft Presidio and replaced before "
            "writing; the records keep only entity types, output spans and keyed hashes."
        )
        lines.append("")
        lines.append("```json")
        lines.append(json.dumps(pii, indent=2, sort_keys=True))
        lines.append("```")
    else:
        pii_cfg = manifest.get("recipe", {}).get("pii")
        if pii_cfg is None or not pii_cfg.get("enabled", False):
            lines.append(
                "**PII anonymization was not part of this run.** The text may contain "
                "personal data exactly as it appeared in the sources."
            )
    audit = manifest.get("audit")
    if audit:
        lines += [
            "",
            "Audit of the output:",
            "",
            "```json",
            json.dumps(audit, indent=2, sort_keys=True),
            "```",
        ]
    if ledger:
        total = sum(float(r.get("epsilon", 0)) for r in ledger)
        lines += [
            "",
            f"Differentially private fine-tuning runs on this dataset: {len(ledger)}; "
            f"cumulative epsilon {total:.3f} (basic composition).",
            "",
        ]
        for r in ledger:
            lines.append(
                f"- {r.get('time', '?')}: epsilon {r.get('epsilon')}, delta {r.get('delta')}, "
                f"unit {r.get('unit')}, model {r.get('model', '?')}"
            )
    return "\n".join(lines) + "\n"


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
        f"- **{name}**: `{json.dumps(params, sort_keys=True)}`"
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

## Columns

`id`, `text`, `source`, `position`, `meta` (the input's other fields as JSON), `language`,
`language_score`, `signals` (numeric annotations), `modifications` (rewrites applied), and the
annotations later stages add. Load with `datasets.load_dataset("parquet", data_files=...)`, pandas
or DuckDB.

"""
    return "\n".join(header) + "\n" + body + _privacy(manifest, ledger)


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
