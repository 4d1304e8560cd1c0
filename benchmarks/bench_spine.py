"""Spine benchmark: docs/s and peak memory of ReadCorpus -> Normalize -> DropExactDuplicates ->
WriteShards on a generated corpus, with one and two workers. Memory: the peak RSS of the largest
process of the run's tree (launcher or worker), sampled from /proc every 0.2 s
(``benchmarks.harness``).

Baseline, measured in the same run on the same files: a plain single-process Python loop that
decompresses, parses, normalizes and hashes every record (no Beam, no writing). Ratios are
printed against it.

    .venv/bin/python -m benchmarks.bench_spine --docs 100000
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path

from benchmarks.corpus import write_spine_corpus
from benchmarks.harness import run_thresher


def baseline(directory: Path) -> tuple[float, int]:
    from thresher.core.hashing import content_key
    from thresher.core.normalize import normalize_text

    t0 = time.perf_counter()
    n = 0
    seen = set()
    for p in sorted(directory.glob("*.jsonl.gz")):
        with gzip.open(p, "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                seen.add(content_key(normalize_text(rec["text"])))
                n += 1
    return time.perf_counter() - t0, n


def spine_overrides() -> list[str]:
    """The spine only: every later stage off (those that exist in this version's recipe)."""
    from thresher.config import PipelineConfig

    sections = PipelineConfig.model_fields
    overrides = [f"{key}.enabled=false" for key in ("filters", "bias", "pii") if key in sections]
    return [*overrides, "dedup.near.enabled=false"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        size = write_spine_corpus(corpus, a.docs)
        base_s, n = baseline(corpus)
        print(f"corpus: {n:,} docs, {size / 1e6:.1f} MB uncompressed JSONL in 10 gzip files")
        print(
            f"baseline (plain Python loop: gunzip+parse+normalize+hash, 1 process): "
            f"{n / base_s:,.0f} docs/s"
        )
        for w in a.workers:
            r = run_thresher(corpus, Path(tmp) / f"out{w}", overrides=spine_overrides(), workers=w)
            wall, peak_mb, m = r.memory.wall_s, r.memory.largest_peak_mb, r.manifest
            pipe = m["timings"]["pipeline_seconds"]
            rate = n / pipe
            print(
                f"thresher spine, {w} worker(s): {rate:,.0f} docs/s in the pipeline "
                f"({pipe:.1f} s; {wall:.1f} s wall with start-up), peak RSS of the largest "
                f"process {peak_mb:,.0f} MiB, ratio vs baseline {rate / (n / base_s):.2f}; "
                f"kept {m['counts']['kept']:,}, duplicate {m['counts']['duplicate']:,}, "
                f"balanced={m['accounting']['balanced']}"
            )


if __name__ == "__main__":
    main()
