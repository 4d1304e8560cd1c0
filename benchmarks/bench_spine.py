"""Spine benchmark: docs/s and peak memory of ReadCorpus -> Normalize -> DropExactDuplicates ->
WriteShards on a generated corpus, with one and two workers.

Baseline, measured in the same run on the same files: a plain single-process Python loop that
decompresses, parses, normalizes and hashes every record (no Beam, no writing). Ratios are
printed against it.

    .venv/bin/python benchmarks/bench_spine.py --docs 100000
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import document

ROOT = Path(__file__).resolve().parents[1]


def make_corpus(directory: Path, docs: int, files: int = 10) -> int:
    rng = random.Random(42)
    base = [document(rng, 60, 260) for _ in range(min(docs, 5000))]
    total = 0
    per_file = -(-docs // files)
    n = 0
    for f in range(files):
        with gzip.open(directory / f"part-{f:03d}.jsonl.gz", "wt", encoding="utf-8") as fh:
            for _ in range(per_file):
                if n >= docs:
                    break
                # 5% exact duplicates; the rest unique by a numbered sentence.
                text = (
                    base[n % len(base)]
                    if rng.random() < 0.05
                    else f"Record {n}. " + rng.choice(base)
                )
                line = json.dumps({"id": f"d{n}", "text": text, "source": "bench"}) + "\n"
                fh.write(line)
                total += len(line)
                n += 1
    return total


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


def run_thresher(corpus: Path, out: Path, workers: int) -> tuple[float, float, dict]:
    args = [
        str(Path(sys.executable).with_name("thresher")),
        "run",
        str(ROOT / "pipelines/default.yaml"),
        "--input",
        str(corpus),
        "--output",
        str(out),
        "--overwrite",
        "--quiet",
    ]
    # The spine only: every later stage off (those that exist in this version's recipe).
    from thresher.config import PipelineConfig

    sections = PipelineConfig.model_fields
    for key in ("filters", "bias", "pii"):
        if key in sections:
            args += ["--set", f"{key}.enabled=false"]
    args += ["--set", "dedup.near.enabled=false"]
    if workers > 1:
        args += ["--direct_num_workers", str(workers), "--direct_running_mode", "multi_processing"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(
        args, capture_output=True, text=True, env={**os.environ, "THRESHER_PROGRESS": "0"}
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    manifest = json.loads((out / "manifest.json").read_text())
    # ru_maxrss of children is the largest single descendant process (KiB on Linux).
    return wall, max(peak, before) / 1024, manifest


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        size = make_corpus(corpus, a.docs)
        base_s, n = baseline(corpus)
        print(f"corpus: {n:,} docs, {size / 1e6:.1f} MB uncompressed JSONL in 10 gzip files")
        print(
            f"baseline (plain Python loop: gunzip+parse+normalize+hash, 1 process): "
            f"{n / base_s:,.0f} docs/s"
        )
        for w in a.workers:
            wall, peak_mb, m = run_thresher(corpus, Path(tmp) / f"out{w}", w)
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
