"""Scaling benchmark: the full default recipe on generated corpora of growing size, with one and
two worker processes; docs/s, and peak RSS per process (launcher and each worker) sampled from
/proc every 0.2 s, and the largest input the local runner handed one worker at once. No step may
hold the corpus: weak scaling (``--per-worker``, below) is how that is checked on this runner.

Baseline in the same run: the first run of the plan (ratios are printed against it). Ends with
the Dataflow cost model fed by the largest run that had a core per worker.

    .venv/bin/python benchmarks/bench_scale.py --docs 10000 100000 --workers 1 2
    # where a worker's memory goes: the same with small shards and without PII
    .venv/bin/python benchmarks/bench_scale.py --docs 10000 100000 --workers 2 \
        --set output.max_rows_per_shard=10000 --set output.max_lineage_rows_per_shard=10000
    # weak scaling: 10,000 documents per worker process, 1 to 8 workers (10,000 to 80,000 docs)
    .venv/bin/python benchmarks/bench_scale.py --per-worker 10000 --workers 1 2 4 8 \
        --set output.max_rows_per_shard=10000 --set output.max_lineage_rows_per_shard=10000

Beam's local runner sends each worker its whole share of a stage's input before the bundle
starts (see runner_handoff.py), so on that runner a worker's memory follows corpus / workers
whatever the pipeline does. Weak scaling keeps that share constant: a step that held the corpus
(or any fixed fraction of it) would still grow one worker as the corpus grows. Each run prints
the largest input the runner handed one worker at once beside the workers' peaks.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import document, near_duplicate

ROOT = Path(__file__).resolve().parents[1]
PII_LINES = [
    "Contact Dana Whitfield at dana.whitfield@example.com for details.",
    "Call the office on (415) 555-0173 before noon.",
    "The invoice went to card 4111 1111 1111 1111 last week.",
    "Login attempts came from 198.51.100.23 overnight.",
]


def make_corpus(directory: Path, docs: int, files: int = 10) -> int:
    """English prose, 5% exact and 5% near duplicates, 10% with a PII line; gzip JSONL."""
    rng = random.Random(11)
    total = 0
    per_file = -(-docs // files)
    recent: list[str] = []
    n = 0
    for f in range(files):
        lines = []
        for _ in range(per_file):
            if n >= docs:
                break
            r = rng.random()
            if recent and r < 0.05:
                text = rng.choice(recent)
            elif recent and r < 0.10:
                text = near_duplicate(rng, rng.choice(recent), 0.02)
            else:
                text = document(rng, 80, 260)
                if rng.random() < 0.10:
                    text = rng.choice(PII_LINES) + "\n\n" + text
                recent.append(text)
                recent = recent[-200:]
            lines.append(json.dumps({"id": f"d{n}", "text": text}))
            n += 1
        data = ("\n".join(lines) + "\n").encode()
        total += len(data)
        (directory / f"part-{f:03d}.jsonl.gz").write_bytes(gzip.compress(data, mtime=0))
    return total


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        stack.extend(children.get(p, []))
    return out


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run(
    corpus: Path, out: Path, workers: int, overrides: list[str] = (), processes: bool = False
) -> dict:
    """One ``thresher run``; ``processes``: worker processes even for one worker (Beam runs a
    single worker inside the launcher otherwise)."""
    handoff = out.with_name(out.name + "-handoff.json")
    args = [
        sys.executable,
        str(Path(__file__).with_name("runner_handoff.py")),
        "run",
        str(ROOT / "pipelines/default.yaml"),
        "--input",
        str(corpus),
        "--output",
        str(out),
        "--overwrite",
        "--quiet",
        "--set",
        "input.id_field=id",
        "--set",
        "limits.max_dead_letter_fraction=1",
    ]
    for item in overrides:
        args += ["--set", item]
    if workers > 1 or processes:
        args += ["--direct_num_workers", str(workers), "--direct_running_mode", "multi_processing"]
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "THRESHER_PROGRESS": "0", "THRESHER_HANDOFF_REPORT": str(handoff)},
    )
    peaks: dict[int, float] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for pid in _descendants(proc.pid):
                peaks[pid] = max(peaks.get(pid, 0.0), _rss_mb(pid))
            time.sleep(0.2)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    t0 = time.perf_counter()
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    stop.set()
    t.join()
    if proc.returncode != 0:
        raise SystemExit(err[-3000:])
    m = json.loads((out / "manifest.json").read_text())
    launcher = peaks.pop(proc.pid, 0.0)
    workers_mb = sorted((v for v in peaks.values() if v > 50), reverse=True)
    return {
        "manifest": m,
        "wall": wall,
        "launcher_mb": launcher,
        "worker_mb": workers_mb,
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
                sizes[n] = make_corpus(corpus, n)
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
                "cost": m.get("cost"),
            }
            rows.append(row)
            base = rows[0]
            print(
                f"{n:>8,} docs, {w} worker(s): {row['docs_per_s']:>7,.1f} docs/s "
                f"(x{row['docs_per_s'] / base['docs_per_s']:.2f} vs {base['docs']:,} docs/"
                f"{base['workers']} worker(s)), pipeline {pipe:,.0f} s, peak RSS launcher "
                f"{row['launcher_peak_mb']:,} MB, workers {row['worker_peak_mb']} MB, largest "
                f"input the runner handed one worker at once {row['largest_handoff_mb']} MB "
                f"({row['largest_handoff_step']}), largest bundle {row['largest_bundle_mb']} MB "
                f"({row['largest_bundle_stage']}); kept {row['kept']:,}, "
                f"duplicate {row['duplicate']:,}, dropped {row['dropped']:,}, "
                f"balanced={row['balanced']}",
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
