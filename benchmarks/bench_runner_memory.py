"""Does a local multi-process FnApiRunner worker grow with the input, and where? The scale
benchmark's corpus on two worker processes, peak RSS of each worker process sampled from /proc
every 0.2 s (``benchmarks.harness``). Pipelines (``--pipeline``, repeatable):

- ``beam``: Beam alone: ReadFromText (gzip JSONL), parse, key by a hash of the text into 5,000
  keys, GroupByKey, count;
- ``read``: thresher's ReadCorpus, then count;
- ``read-group``: ReadCorpus, key documents into 5,000 keys, GroupByKey, count.

``largest_handoff_mb``: the largest input the runner sent one worker in one piece (see
benchmarks/runner_handoff.py). The baseline for reading bench_scale's memory columns.

    .venv/bin/python -m benchmarks.bench_runner_memory 10000 50000 --pipeline beam read read-group
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from benchmarks import runner_handoff
from benchmarks.corpus import write_scale_corpus
from benchmarks.harness import measure_call, rss_mb


def _key(doc: dict) -> tuple[int, dict]:
    return (hash(doc["text"]) % 5000, doc)


def _chars(kv: tuple[int, list]) -> int:
    return sum(len(d["text"]) for d in kv[1])


def _key_doc(doc: object) -> tuple[int, object]:
    return (hash(doc.id) % 5000, doc)  # type: ignore[attr-defined]


def _size(kv: tuple[int, list]) -> int:
    return len(kv[1])


def _pipeline(p: object, tmp: str, kind: str) -> None:
    import apache_beam as beam

    if kind == "beam":
        docs = (
            p
            | beam.io.ReadFromText(f"{tmp}/*.jsonl.gz")
            | beam.Map(json.loads)
            | beam.Map(_key)
            | beam.GroupByKey()
            | beam.Map(_chars)
        )
    else:
        from thresher.config import InputConfig
        from thresher.io.read import MAIN, ReadCorpus, resolve_inputs

        cfg = InputConfig(paths=[tmp])
        docs = (p | ReadCorpus(resolve_inputs(cfg.paths), cfg))[MAIN]
        if kind == "read-group":
            docs = docs | beam.Map(_key_doc) | beam.GroupByKey() | beam.Map(_size)
    _ = docs | beam.combiners.Count.Globally()


def run(n: int, kind: str) -> dict:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    with tempfile.TemporaryDirectory() as tmp:
        write_scale_corpus(Path(tmp), n)
        opts = PipelineOptions(
            [
                "--runner=FnApiRunner",
                "--direct_num_workers=2",
                "--direct_running_mode=multi_processing",
            ]
        )
        runner_handoff.install()
        runner_handoff.reset()

        def pipeline() -> None:
            with beam.Pipeline(options=opts) as p:
                _pipeline(p, tmp, kind)

        _, memory = measure_call(pipeline)
        return {
            "pipeline": kind,
            "docs": n,
            "seconds": round(memory.wall_s, 1),
            "worker_peak_mb": [round(x) for x in memory.worker_peaks_mb()[:2]],
            "launcher_mb": round(rss_mb(os.getpid())),
            "largest_handoff_mb": runner_handoff.summary()["largest_mb"],
        }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("docs", type=int, nargs="+")
    ap.add_argument(
        "--pipeline", nargs="+", choices=["beam", "read", "read-group"], default=["beam"]
    )
    a = ap.parse_args()
    for kind in a.pipeline:
        for n in a.docs:
            print(json.dumps(run(n, kind)), flush=True)


if __name__ == "__main__":
    main()
