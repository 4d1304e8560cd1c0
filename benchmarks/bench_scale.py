"""Scaling benchmark: the full default recipe on generated corpora of growing size, with one and
two worker processes; docs/s, and peak RSS per process (launcher and each worker) sampled from
/proc every 0.2 s, and the largest input the local runner handed one worker at once. No step may
hold the corpus: weak scaling (``--per-worker``, below) is how that is checked on this runner.

Baseline in the same run: the first run of the plan (ratios are printed against it). Ends with
the Dataflow cost model fed by the largest run that had a core per worker.

    .venv/bin/python -m benchmarks.bench_scale --docs 10000 100000 --workers 1 2
    # where a worker's memory goes: the same with small shards and without PII
    .venv/bin/python -m benchmarks.bench_scale --docs 10000 100000 --workers 2 \
        --set output.max_rows_per_shard=10000 --set output.max_lineage_rows_per_shard=10000
    # batched local runs (docs/scaling.md#batched-local-runs): the default batches inputs over
    # local.batch_records; the same without batching, for the ratio 50k/10k of each
    .venv/bin/python -m benchmarks.bench_scale --docs 10000 50000 --workers 1 --set pii.enabled=false
    .venv/bin/python -m benchmarks.bench_scale --docs 10000 50000 --workers 1 --set pii.enabled=false \
        --set local.batch_records=null
    # weak scaling: 10,000 documents per worker process, 1 to 8 workers (10,000 to 80,000 docs)
    .venv/bin/python -m benchmarks.bench_scale --per-worker 10000 --workers 1 2 4 8 \
        --set output.max_rows_per_shard=10000 --set output.max_lineage_rows_per_shard=10000

Beam's local runner sends each worker its whole share of a stage's input before the bundle
starts (see benchmarks/runner_handoff.py), so on that runner a worker's memory follows
corpus / workers whatever the pipeline does. Weak scaling keeps that share constant: a step
that held the corpus (or any fixed fraction of it) would still grow one worker as the corpus
grows. Each run prints
the largest input the runner handed one worker at once beside the workers' peaks.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.corpus import write_scale_corpus
from benchmarks.harness import run_thresher

# Every run: ids from the corpus, and no dead-letter limit.
BASE_OVERRIDES = ("input.id_field=id", "limits.max_dead_letter_fraction=1")


def run(
    corpus: Path, out: Path, workers: int, overrides: Sequence[str] = (), processes: bool = False
) -> dict:
    """One measured ``thresher run`` of the default recipe; ``processes``: worker processes even
    for one worker (Beam runs a single worker inside the launcher otherwise)."""
    handoff = out.with_name(out.name + "-handoff.json")
    r = run_thresher(
        corpus,
        out,
        overrides=[*BASE_OVERRIDES, *overrides],
        workers=workers,
        processes=processes,
        handoff_report=handoff,
    )
    return {
        "manifest": r.manifest,
        "wall": r.memory.wall_s,
        "launcher_mb": r.memory.root_peak_mb,
        "worker_mb": r.memory.worker_peaks_mb(),
        "handoff": json.loads(handoff.read_text()),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument(
        "--per-worker",
        type=int,
        metavar="N",
        help="weak scaling: one run per --workers value on N x workers documents, every worker "
        "a separate process (--docs ignored)",
    )
    ap.add_argument("--json", help="also write the rows here")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="recipe override passed to every run (e.g. pii.enabled=false)",
    )
    a = ap.parse_args()
    if a.per_worker:
        plan = [(a.per_worker * w, w) for w in a.workers]
    else:
        plan = [(n, w) for n in a.docs for w in a.workers]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        sizes: dict[int, int] = {}
        for n, w in plan:
            corpus = Path(tmp) / f"c{n}"
            if n not in sizes:
                corpus.mkdir()
                sizes[n] = write_scale_corpus(corpus, n)
            r = run(corpus, Path(tmp) / f"o{n}-{w}", w, a.set, processes=bool(a.per_worker))
            m = r["manifest"]
            pipe = m["timings"]["pipeline_seconds"]
            row = {
                "docs": n,
                "workers": w,
                "input_mb": round(sizes[n] / 1e6, 1),
                "pipeline_s": pipe,
                "wall_s": round(r["wall"], 1),
                "docs_per_s": round(n / pipe, 1),
                "launcher_peak_mb": round(r["launcher_mb"]),
                "worker_peak_mb": [round(x) for x in r["worker_mb"][:8]],
                "largest_handoff_mb": r["handoff"]["largest_mb"],
                "largest_handoff_step": r["handoff"]["largest_step"],
                "largest_bundle_mb": r["handoff"]["largest_bundle_mb"],
                "largest_bundle_stage": r["handoff"]["largest_bundle_stage"],
                "kept": m["counts"]["kept"],
                "duplicate": m["counts"]["duplicate"],
                "dropped": m["counts"]["dropped"],
                "balanced": m["accounting"]["balanced"],
                "batches": (m.get("batching") or {}).get("batches", 1),
                "cost": m.get("cost"),
            }
            rows.append(row)
            base = rows[0]
            print(
                f"{n:>8,} docs, {w} worker(s): {row['docs_per_s']:>7,.1f} docs/s "
                f"(x{row['docs_per_s'] / base['docs_per_s']:.2f} vs {base['docs']:,} docs/"
                f"{base['workers']} worker(s)), pipeline {pipe:,.0f} s, peak RSS launcher "
                f"{row['launcher_peak_mb']:,} MB (x{row['launcher_peak_mb'] / max(base['launcher_peak_mb'], 1):.2f}"
                f" vs the first run), workers {row['worker_peak_mb']} MB, largest "
                f"input the runner handed one worker at once {row['largest_handoff_mb']} MB "
                f"({row['largest_handoff_step']}), largest bundle {row['largest_bundle_mb']} MB "
                f"({row['largest_bundle_stage']}); kept {row['kept']:,}, "
                f"duplicate {row['duplicate']:,}, dropped {row['dropped']:,}, "
                f"balanced={row['balanced']}, batches {row['batches']}",
                flush=True,
            )
    # Per-core rates mean nothing when worker processes outnumber the cores (they time-share):
    # the cost model comes from the largest run that had a core per worker.
    fair = [r for r in rows if r["workers"] <= (os.cpu_count() or 1)]
    last = (fair[-1]["cost"] if fair else None) or {}
    if last.get("available"):
        print(
            f"cost model from the largest run with a core per worker "
            f"({fair[-1]['docs']:,} docs, {fair[-1]['workers']} worker(s); {last['basis']}): {last['docs_per_core_second']} "
            f"docs per core-second, {last['worker_hours_per_million_docs']} worker-hours and "
            f"${last['usd_per_million_docs']} per million documents; "
            f"{last['worker_hours_per_tb']} worker-hours and ${last['usd_per_tb']} per TB of text; "
            f"assumptions {last['assumptions']}"
        )
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
