"""Golden outputs of ``make run``'s recipe: what a refactor must leave unchanged.

``canonical(out)`` reduces an output directory to what must not change: every row of
``data/``, ``lineage/``, ``dead_letter/`` and ``index/`` (hashed, with the row count) and the
manifest, minus what differs between machines and runs by design: timings and the cost
estimate drawn from them, the output path (and the recipe hash, which covers it), Parquet file
sizes (pyarrow's writer version), and the PII segment-cache counters (a worker's cache hits
depend on how bundles fall on workers; the analysis results do not).

Regenerate after an intended change of behaviour, and say why in the commit:
    .venv/bin/python -m tests.e2e.golden --regenerate
(both runs, in the fixed checkout the tests use and with the tests' fixed PII key).
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
# which worker analyzes which record (and so what its caches hold) depends on timing
_CACHE_COUNTERS = ("pii.segments", "pii.segments_cached", "pii.segments_ner", "pii.ner_chars")


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


def write(out: Path, name: str) -> Path:
    target = GOLDEN / f"{name}.json"
    target.write_text(json.dumps(canonical(out), indent=1, sort_keys=True) + "\n")
    return target


def main(argv: list[str]) -> int:
    """``--regenerate``: both golden runs as the tests make them; ``OUT NAME``: one output."""
    if argv != ["--regenerate"]:
        print(write(Path(argv[0]).resolve(), argv[1]))
        return 0
    import tempfile

    from tests.conftest import run_cli  # sets the tests' fixed key store
    from tests.e2e.conftest import fixed_checkout

    checkout, base = fixed_checkout(), Path(tempfile.mkdtemp(prefix="thresher-golden-"))
    runs = {
        "one_worker": ["--direct_num_workers", "1"],
        "two_workers": ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"],
    }
    for name, options in runs.items():
        out = base / name
        proc = run_cli(
            "run", "pipelines/default.yaml", "--output", str(out), "--quiet", *options, cwd=checkout
        )
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        print(write(out, name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
