"""Golden outputs of ``make run``'s recipe: what a refactor must leave unchanged.

``canonical(out)`` reduces an output directory to what must not change: every row of
``data/``, ``lineage/``, ``dead_letter/`` and ``index/`` (hashed, with the row count) and the
manifest, minus what differs between machines and runs by design: timings and the cost
estimate drawn from them, the output path (and the recipe hash, which covers it), Parquet file
sizes (pyarrow's writer version), and the PII segment-cache counters (a worker's cache hits
depend on how bundles fall on workers; the analysis results do not).

Regenerate after an intended change of behaviour, and say why in the commit:
    .venv/bin/thresher run pipelines/default.yaml --output /tmp/g1 --quiet
    .venv/bin/python -m tests.e2e.golden /tmp/g1 one_worker
    (and the same with ``--direct_num_workers 2 --direct_running_mode multi_processing`` for
    ``two_workers``)
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
KINDS = ("data", "lineage", "dead_letter", "index")
_CACHE_COUNTERS = ("pii.segments", "pii.segments_cached")


def _scrub(text: str, out: Path) -> str:
    return text.replace(str(out), "<OUT>").replace(str(REPO), "<REPO>")


def canonical(out: Path) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for kind in KINDS:
        rows: list[dict[str, Any]] = []
        for f in sorted((out / kind).glob("*.parquet")):
            rows.extend(pq.read_table(f).to_pylist())
        blob = _scrub(json.dumps(rows, sort_keys=True, default=str), out)
        result[kind] = {"rows": len(rows), "sha256": hashlib.sha256(blob.encode()).hexdigest()}
    manifest = json.loads(_scrub((out / "manifest.json").read_text(), out))
    for key in ("timings", "cost", "recipe_hash"):
        manifest.pop(key, None)
    for shards in manifest.get("outputs", {}).values():
        for shard in shards:
            shard.pop("bytes", None)
    for key in _CACHE_COUNTERS:
        manifest.get("stats", {}).pop(key, None)
    manifest.get("pii", {}).pop("segments", None)
    result["manifest"] = manifest
    return result


def load(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / f"{name}.json").read_text())


def main(argv: list[str]) -> int:
    out, name = Path(argv[0]).resolve(), argv[1]
    target = GOLDEN / f"{name}.json"
    target.write_text(json.dumps(canonical(out), indent=1, sort_keys=True) + "\n")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
