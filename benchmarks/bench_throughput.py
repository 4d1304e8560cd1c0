"""Throughput and the cost per TB: the default recipe in one process, per-stage shares.

Runs ``thresher run`` inside this Python process (``--direct_num_workers 1``: Beam's
FnApiRunner in-process, so the process CPU time is every stage's time plus start-up) on a
generated corpus (``benchmarks/corpus.py``, ``write_scale_corpus``) or on given inputs, and
prints per run: CPU seconds of the whole process, MB of text per CPU-second (the per-core
rate), the core-hours one TB of such text costs at that rate, the 1-minute load average (the
machine may be shared) and each stage's share of ``timings.stage_msecs`` in the manifest.
``--profile FILE`` also writes a cProfile of the last run (``python -m pstats FILE``).

    .venv/bin/python -m benchmarks.bench_throughput --docs 3000 --repeat 2 --set pii.enabled=false
    .venv/bin/python -m benchmarks.bench_throughput --input sample_data --set pii.enabled=false

MB of text: documents read times the manifest's mean document size (``cost.mean_doc_bytes``,
UTF-8 bytes of the text). 1 TB = 10^6 MB. Benchmarks only; not a test.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.corpus import write_scale_corpus
from thresher.cli import main as thresher_main

# Every run: ids from the corpus (where it has them) and no dead-letter limit.
BASE_OVERRIDES = ("limits.max_dead_letter_fraction=1",)


def run_once(
    inputs: str, out: Path, overrides: Sequence[str], profile: str | None = None
) -> dict[str, Any]:
    """One in-process ``thresher run``; CPU and wall seconds of the whole call."""
    argv = ["run", "--input", inputs, "--output", str(out), "--overwrite", "--quiet"]
    for o in (*BASE_OVERRIDES, *overrides):
        argv += ["--set", o]
    argv += ["--direct_num_workers", "1"]
    prof = cProfile.Profile() if profile else None
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    if prof is not None:
        prof.enable()
    code = thresher_main(argv)
    if prof is not None and profile:
        prof.disable()
        prof.dump_stats(profile)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    if code:
        raise SystemExit(f"thresher run exited {code}")
    m = json.loads((out / "manifest.json").read_text())
    mb = m["counts"]["input"] * m["cost"]["mean_doc_bytes"] / 1e6
    msecs: dict[str, int] = m["timings"]["stage_msecs"]
    total = sum(msecs.values()) or 1
    return {
        "mb": round(mb, 3),
        "cpu_s": round(cpu, 2),
        "wall_s": round(wall, 2),
        "mb_per_core_s": round(mb / cpu, 4),
        "core_hours_per_tb": round(1e6 * cpu / mb / 3600),
        "load_1min": round(max(load, os.getloadavg()[0]), 2),
        "counts": {k: m["counts"][k] for k in ("input", "kept", "dropped", "duplicate")},
        "stage_share": {k: round(v / total, 3) for k, v in sorted(msecs.items())},
        "stage_msecs": msecs,
    }


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=3000, help="generated documents (no --input)")
    ap.add_argument("--input", help="files or directories to read instead of a generated corpus")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--profile", metavar="FILE", help="cProfile of the last run")
    ap.add_argument("--json", help="also write the rows here")
    a = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = a.input
        if inputs is None:
            inputs = str(Path(tmp) / "corpus")
            Path(inputs).mkdir()
            write_scale_corpus(Path(inputs), a.docs)
        for i in range(a.repeat):
            last = i == a.repeat - 1
            row = run_once(inputs, Path(tmp) / f"out{i}", a.set, a.profile if last else None)
            rows.append(row)
            shares = ", ".join(f"{k} {v:.0%}" for k, v in row["stage_share"].items())
            print(
                f"run {i + 1}: {row['mb']} MB in {row['cpu_s']} CPU-s ({row['wall_s']} s wall, "
                f"load {row['load_1min']}): {row['mb_per_core_s']} MB/s/core, "
                f"{row['core_hours_per_tb']:,} core-hours per TB; {row['counts']}; {shares}",
                flush=True,
            )
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
