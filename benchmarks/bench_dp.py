"""DP fine-tuning benchmark: DP-SGD against non-private training on the same data and model.

For each task, one non-private baseline and one DP run per target epsilon (3 and 8), all with
the same model, data split, steps, batch size and learning rate. Prints the utility gap
(held-out perplexity or accuracy) and the throughput ratio (training samples/s, DP over
non-private), measured in the same process on the same machine.

- causal: the ``tiny`` GPT-2 on the output of ``thresher run`` over ``sample_data/`` (or
  ``--causal-data DIR``, any thresher output; without either, a generated corpus);
- classification: all-MiniLM-L6-v2 (``--model minilm``; the last encoder block + head train)
  on a labelled synthetic task: which of four topics a generated sentence is about.

    .venv/bin/python -m benchmarks.bench_dp            # ~4 min on 2 cores
    .venv/bin/python -m benchmarks.bench_dp --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.corpus import TOPICS, document, sentence
from benchmarks.harness import DEFAULT_RECIPE, ROOT, THRESHER

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")


def _write_output(directory: Path, rows: list[dict[str, Any]]) -> Path:
    """A thresher output directory (data shard + manifest) from ``rows`` of text and meta."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from thresher.schema import DOCUMENT_SCHEMA

    table = pa.Table.from_pylist(
        [
            {
                "id": f"b{i:06d}",
                "text": r["text"],
                "source": "bench",
                "position": i,
                "meta": json.dumps(r["meta"]),
                "language": "en",
                "language_score": 1.0,
                "signals": [],
                "modifications": [],
            }
            for i, r in enumerate(rows)
        ],
        schema=DOCUMENT_SCHEMA,
    )
    (directory / "data").mkdir(parents=True, exist_ok=True)
    pq.write_table(table, directory / "data" / "part-00000-of-00001.parquet")
    manifest = {"status": "succeeded", "counts": {"kept": len(rows)}, "source": "bench_dp"}
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return directory


def causal_data(work: Path, given: str | None) -> tuple[Path, str]:
    if given:
        return Path(given), given
    sample = ROOT / "sample_data"
    if sample.is_dir() and THRESHER.exists():
        out = work / "sample_out"
        proc = subprocess.run(
            [
                str(THRESHER),
                "run",
                str(DEFAULT_RECIPE),
                "--input",
                str(sample),
                "--output",
                str(out),
                "--quiet",
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if proc.returncode == 0:
            return out, "thresher run over sample_data/"
    rng = random.Random(7)
    rows = [{"text": document(rng, 60, 200), "meta": {}} for _ in range(600)]
    return _write_output(work / "generated", rows), "600 generated documents"


def classification_data(work: Path, records: int) -> Path:
    rng = random.Random(11)
    topics = sorted(TOPICS)[:4]
    rows = []
    for i in range(records):
        topic = topics[i % len(topics)]
        rows.append({"text": sentence(rng, topic), "meta": {"topic": topic}})
    return _write_output(work / "topics", rows)


def probe_throughput(
    data: Path, model: str, settings: dict[str, Any], device: str, rounds: int, steps: int
) -> tuple[float, float]:
    """Training samples/s of DP-SGD and of plain AdamW, timed in alternating rounds of
    ``steps`` steps on the same batches' sizes (median over ``rounds``): on a shared machine
    this keeps both sides under the same load. Uses a fixed sigma: the cost does not depend on
    it."""
    import statistics

    import torch

    from thresher.config import FinetuneConfig
    from thresher.finetune import runner, train

    config = FinetuneConfig.model_validate({**settings, "epsilon": None, "noise_multiplier": 1.0})
    dev = torch.device(device)
    task = runner.load_task(data, model, config)
    dp_side = runner.build(task, config, dev)
    plain = runner.build(task, config, dev)
    n_units = len(task.train_units)
    rate = min(1.0, config.batch_size / n_units)
    pad = dp_side.tokenizer.pad_token_id
    trainer = train.DPTrainer(
        dp_side.model,
        config.task,
        dp_side.train_examples,
        learning_rate=1e-3,
        noise_multiplier=1.0,
        max_grad_norm=1.0,
        expected_batch_size=float(config.batch_size),
        physical_batch_size=config.physical_batch_size,
        pad_id=pad,
        device=dev,
        noise_generator=torch.Generator(device=dev).manual_seed(1),
        secure_mode=False,
    )
    sampler = train.UnitSampler(
        train.by_unit(dp_side.train_examples, n_units),
        rate,
        config.max_examples_per_unit,
        torch.Generator().manual_seed(0),
    )
    dp_rates: list[float] = []
    plain_rates: list[float] = []
    for r in range(rounds):
        seen = 0
        t0 = time.perf_counter()
        for _ in range(steps):
            idx, owner = sampler.sample()
            trainer.step(idx, owner)
            seen += len(idx)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        dp_rates.append(seen / (time.perf_counter() - t0))
        stats = train.train_nonprivate(
            plain.model,
            config.task,
            plain.train_examples,
            n_units,
            steps=steps,
            batch_size=config.batch_size,
            cap=config.max_examples_per_unit,
            learning_rate=1e-3,
            physical_batch_size=config.physical_batch_size,
            pad_id=pad,
            device=dev,
            generator=torch.Generator().manual_seed(r),
        )
        plain_rates.append(stats["samples_per_second"])
    return statistics.median(dp_rates), statistics.median(plain_rates)


def run_task(
    name: str,
    data: Path,
    model: str,
    work: Path,
    epsilons: list[float],
    settings: dict[str, Any],
    device: str,
    probe_steps: int,
) -> list[dict[str, Any]]:
    from thresher.config import FinetuneConfig
    from thresher.finetune import finetune

    rows: list[dict[str, Any]] = []
    baseline: dict[str, Any] = {}
    for i, eps in enumerate(epsilons):
        config = FinetuneConfig.model_validate({**settings, "epsilon": eps})
        t0 = time.perf_counter()
        res = finetune(
            data_dir=data,
            model=model,
            output=work / f"{name}-eps{eps:g}",
            config=config,
            baseline=(i == 0),
            device=device,
        )
        wall = time.perf_counter() - t0
        if i == 0:
            baseline = res.baseline_metrics
        dp_v, base_v = res.dp_metrics["value"], baseline["value"]
        rows.append(
            {
                "task": name,
                "model": model,
                "target_epsilon": eps,
                "epsilon": res.epsilon,
                "delta": res.delta,
                "noise_multiplier": res.noise_multiplier,
                "sampling_rate": res.sampling_rate,
                "steps": res.steps,
                "units": res.units,
                "metric": res.dp_metrics["metric"],
                "dp": dp_v,
                "non_private": base_v,
                "gap": dp_v - base_v,
                "wall_s": wall,
            }
        )
    dp_sps, plain_sps = probe_throughput(data, model, settings, device, 5, probe_steps)
    for row in rows:
        row.update(
            dp_samples_per_s=dp_sps,
            non_private_samples_per_s=plain_sps,
            throughput_ratio=dp_sps / plain_sps,
        )
        print(_line(row), flush=True)
    return rows


def _line(r: dict[str, Any]) -> str:
    return (
        f"{r['task']:<15} eps {r['target_epsilon']:>3g} (spent {r['epsilon']:.3f}, sigma "
        f"{r['noise_multiplier']:.3f}, {r['steps']} steps)  {r['metric']}: DP "
        f"{r['dp']:.4g} vs non-private {r['non_private']:.4g} (gap {r['gap']:+.4g})  "
        f"samples/s: DP {r['dp_samples_per_s']:.1f} vs {r['non_private_samples_per_s']:.1f} "
        f"(ratio {r['throughput_ratio']:.2f})  wall {r['wall_s']:.0f}s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--epsilons", type=float, nargs="+", default=[3.0, 8.0])
    ap.add_argument("--causal-data", help="a thresher output directory (default: sample_data)")
    ap.add_argument("--causal-epochs", type=int, default=3)
    ap.add_argument("--clf-records", type=int, default=400)
    ap.add_argument("--clf-epochs", type=int, default=2)
    ap.add_argument("--skip", choices=["causal", "classification"], action="append", default=[])
    ap.add_argument("--probe-steps", type=int, default=5, help="steps per timing round")
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args()

    import torch

    print(
        f"# {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
        f"device {args.device}"
        + (f" ({torch.cuda.get_device_name(0)})" if args.device.startswith("cuda") else "")
    )
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench_dp_") as tmp:
        work = Path(tmp)
        if "causal" not in args.skip:
            data, what = causal_data(work, args.causal_data)
            print(f"# causal-lm: tiny GPT-2 on {what}")
            rows += run_task(
                "causal-tiny",
                data,
                "tiny",
                work,
                args.epsilons,
                {
                    "epochs": args.causal_epochs,
                    "batch_size": 64,
                    "max_length": 64,
                    "max_examples_per_unit": 1,
                    "learning_rate": 3e-3,
                    "tokenizer_vocab_size": 512,
                    "physical_batch_size": 128,
                    "checkpoint_every": 1000,
                },
                args.device,
                args.probe_steps,
            )
        if "classification" not in args.skip:
            data = classification_data(work, args.clf_records)
            print(f"# classification: MiniLM-L6 on {args.clf_records} topic sentences, 4 labels")
            rows += run_task(
                "classify-minilm",
                data,
                "minilm",
                work,
                args.epsilons,
                {
                    "task": "classification",
                    "label_field": "topic",
                    "epochs": args.clf_epochs,
                    "batch_size": 32,
                    "max_length": 32,
                    "train_last_layers": 1,
                    "learning_rate": 1e-3,
                    "physical_batch_size": 64,
                    "checkpoint_every": 1000,
                },
                args.device,
                args.probe_steps,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
