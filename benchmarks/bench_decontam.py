"""Decontamination benchmark: what the ``Decontaminate`` stage costs on top of the spine, and
how much memory its index takes per worker.

A generated fine-tuning set (``--docs`` records, 1% of them holding a benchmark question) is
run through the spine recipe (read, normalize, exact dedup, write; every other stage off) twice:
without decontamination and with it, against three generated benchmark files of a few thousand
items each (JSON Lines question/answer, Parquet question/choices with a list field, plain text
one item per line). A third run forces the join path (``max_side_input_ngrams=1``) and checks
that it finds the same records. Reported: pipeline seconds and whole-process seconds of each
run (medians over ``--repeat`` alternating runs; the index is built at launch, so only the
whole-process figure includes it), the stage's share of the runner's processing time
(``timings.stage_msecs``), the index's n-grams and bytes (what every worker process loads) and
the peak RSS of the largest process.

    .venv/bin/python -m benchmarks.bench_decontam --docs 10000 --repeat 5
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.corpus import TOPICS, document, sentence

ROOT = Path(__file__).resolve().parents[1]
SPINE_OFF = ("filters", "bias", "pii")


def make_benchmarks(directory: Path, sizes: tuple[int, int, int]) -> dict[str, list[str]]:
    """Three benchmark files; returns each benchmark's questions (to plant some in the corpus)."""
    rng = random.Random(7)
    topics = sorted(TOPICS)

    def question() -> str:
        t = rng.choice(topics)
        return f"{sentence(rng, t)} {sentence(rng, t)} Which one is it?"

    qa = [{"question": question(), "answer": sentence(rng, "cooking")} for _ in range(sizes[0])]
    with (directory / "qa_test.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in qa)
    mc = [
        {"id": f"mc-{i}", "question": question(), "choices": [sentence(rng, "gardening")] * 2}
        for i in range(sizes[1])
    ]
    pq.write_table(pa.Table.from_pylist(mc), directory / "mc_test.parquet")
    lines = [question() for _ in range(sizes[2])]
    (directory / "lines_test.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        "qa": [r["question"] for r in qa],
        "mc": [r["question"] for r in mc],
        "lines": lines,
    }


def make_corpus(directory: Path, docs: int, questions: dict[str, list[str]]) -> int:
    rng = random.Random(42)
    base = [document(rng, 60, 260) for _ in range(min(docs, 5000))]
    pool = [q for qs in questions.values() for q in qs]
    planted = 0
    with gzip.open(directory / "finetune.jsonl.gz", "wt", encoding="utf-8") as fh:
        for n in range(docs):
            text = f"Record {n}. " + rng.choice(base)
            if n % 100 == 0:  # 1% hold a benchmark question, pasted in the middle
                paras = text.split("\n\n")
                paras.insert(len(paras) // 2, rng.choice(pool))
                text = "\n\n".join(paras)
                planted += 1
            fh.write(json.dumps({"id": f"r{n}", "text": text}) + "\n")
    return planted


def recipe(directory: Path, bench: Path, decontaminate: bool, limit: int) -> Path:
    lines = [
        "dedup:",
        "  near: {enabled: false}",
        *(f"{s}: {{enabled: false}}" for s in SPINE_OFF),
        "decontamination:",
        f"  enabled: {str(decontaminate).lower()}",
        f"  max_side_input_ngrams: {limit}",
        "  benchmarks:",
        f"    - {{name: qa, paths: [{bench / 'qa_test.jsonl'}], fields: [question, answer]}}",
        f"    - {{name: mc, paths: [{bench / 'mc_test.parquet'}], fields: [question, choices],"
        " id_field: id}",
        f"    - {{name: lines, paths: [{bench / 'lines_test.txt'}], fields: [text]}}",
    ]
    path = directory / f"recipe-{decontaminate}-{limit}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(recipe_path: Path, corpus: Path, out: Path) -> tuple[float, float, dict]:
    args = [
        str(Path(sys.executable).with_name("thresher")),
        "run",
        str(recipe_path),
        "--input",
        str(corpus),
        "--output",
        str(out),
        "--quiet",
    ]
    # ru_maxrss of children is the largest single descendant so far (KiB on Linux): run the
    # smaller configuration first, so each later peak is its own or larger
    t0 = time.perf_counter()
    proc = subprocess.run(
        args, capture_output=True, text=True, env={**os.environ, "THRESHER_PROGRESS": "0"}
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, peak, json.loads((out / "manifest.json").read_text())


def _contaminated(out: Path) -> list[str]:
    ids = []
    for f in sorted((out / "lineage").glob("*.parquet")):
        t = pq.read_table(f, columns=["id", "reason"]).to_pylist()
        ids += [r["id"] for r in t if r["reason"] == "contaminated"]
    return sorted(ids)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--items", type=int, nargs=3, default=[3000, 2000, 4000])
    ap.add_argument("--repeat", type=int, default=3, help="runs of spine and side input each")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "bench").mkdir()
        (t / "corpus").mkdir()
        questions = make_benchmarks(t / "bench", tuple(a.items))
        planted = make_corpus(t / "corpus", a.docs, questions)
        print(f"corpus: {a.docs:,} records ({planted} holding a benchmark question)")
        print(f"benchmarks: qa {a.items[0]:,}, mc {a.items[1]:,}, lines {a.items[2]:,} items")
        runs = {}
        plan = [("spine", False, 5_000_000), ("spine+decontaminate (side input)", True, 5_000_000)]
        pipes: dict[str, list[float]] = {name: [] for name, _, _ in plan}
        walls: dict[str, list[float]] = {name: [] for name, _, _ in plan}
        # alternate the two configurations and take medians: one run each is within this
        # VM's run-to-run spread (+25% and +50% on two quiet back-to-back runs)
        for r in range(a.repeat):
            for name, dec, limit in plan:
                out = t / f"out-{dec}-{limit}-{r}"
                wall, peak, m = run(recipe(t, t / "bench", dec, limit), t / "corpus", out)
                if r == 0:  # peaks are cumulative (ru_maxrss): the first round's are each run's
                    runs[name] = (wall, peak, m, _contaminated(out) if dec else [])
                pipes[name].append(m["timings"]["pipeline_seconds"])
                walls[name].append(wall)
        out = t / "out-join"
        wall, peak, m = run(recipe(t, t / "bench", True, 1), t / "corpus", out)
        runs["spine+decontaminate (join)"] = (wall, peak, m, _contaminated(out))
        pipes["spine+decontaminate (join)"] = [m["timings"]["pipeline_seconds"]]
        walls["spine+decontaminate (join)"] = [wall]
        base = statistics.median(pipes["spine"])
        base_wall = statistics.median(walls["spine"])
        for name, (_wall, peak, m, _ids) in runs.items():
            pipe = statistics.median(pipes[name])
            msecs = m["timings"]["stage_msecs"]
            stage = msecs.get("Decontaminate", 0)
            share = stage / sum(msecs.values()) if msecs else 0.0
            each = ", ".join(f"{x:.1f}" for x in pipes[name])
            whole = statistics.median(walls[name])
            line = (
                f"{name}: pipeline median {pipe:.1f} s of [{each}] ({pipe / base - 1:+.1%} vs "
                f"spine); whole process (launch, index build, pipeline, books) median "
                f"{whole:.1f} s ({whole / base_wall - 1:+.1%}); peak RSS of the largest process "
                f"{peak:,.0f} MiB"
            )
            if "decontamination" in m:
                d = m["decontamination"]
                line += (
                    f"; Decontaminate {stage / 1000:.1f} s = {share:.1%} of processing time "
                    f"({stage / max(1, sum(msecs.values()) - stage):.1%} of the rest); index "
                    f"{d['index']['ngrams']:,} n-grams, {d['index']['bytes'] / 2**20:.1f} MiB "
                    f"per worker; {d['records_contaminated']} records contaminated"
                )
            print(line)
        side, join = (runs[k][3] for k in list(runs)[1:])
        print(f"join path finds the same records as the side input: {side == join}")


if __name__ == "__main__":
    main()
