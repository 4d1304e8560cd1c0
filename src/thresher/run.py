"""Launch a curation run: check the output, resolve inputs, run the pipeline, balance the
books, publish the shards and write the manifest."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.runner import PipelineState

import thresher
from thresher.accounting import check_balance, summarize
from thresher.card import write_card
from thresher.config import PipelineConfig
from thresher.core.cost import Prices, estimate
from thresher.errors import OutputError, RunFailedError
from thresher.io.read import InputFile, resolve_inputs
from thresher.pipeline import COUNTS_FILE, build_pipeline, curation_stages, manifest_sections
from thresher.report import write_report

STAGING = "_staging"
PUBLISHED = ("data", "lineage", "dead_letter")
MANIFEST = "manifest.json"
DEFAULT_RUNNER = "FnApiRunner"  # Beam's DirectRunner first tries to download Prism.


@dataclass(frozen=True)
class RunOutcome:
    manifest: dict[str, Any]
    succeeded: bool


def pipeline_options(beam_args: Sequence[str]) -> PipelineOptions:
    """Beam options exactly as given, plus thresher's offline default runner when none is."""
    args = list(beam_args)
    options = PipelineOptions(args)
    if options.view_as(StandardOptions).runner is None:
        options = PipelineOptions([*args, f"--runner={DEFAULT_RUNNER}"])
    return options


def _exists(path: str) -> bool:
    return FileSystems.exists(path)


def _listing(path: str) -> list[str]:
    try:
        return [m.path for m in FileSystems.match([FileSystems.join(path, "**")])[0].metadata_list]
    except Exception:
        return []


def prepare_output(path: str, overwrite: bool) -> None:
    """Refuse a non-empty output directory unless ``overwrite``; then only delete a directory
    that is recognisably a thresher output (never an arbitrary folder)."""
    if not _exists(path):
        return
    contents = _listing(path)
    if not contents:
        return
    if not overwrite:
        raise OutputError(
            f"output.path {path!r} exists and is not empty; choose another --output or pass "
            "--overwrite to replace a previous thresher output"
        )
    ours = _exists(FileSystems.join(path, MANIFEST)) or _exists(FileSystems.join(path, STAGING))
    if not ours:
        raise OutputError(
            f"output.path {path!r} is not a thresher output (no manifest.json); refusing to "
            "delete it even with --overwrite: choose an empty or new directory"
        )
    FileSystems.delete([path])


def _publish(staging: str, out: str, kind: str) -> list[dict[str, Any]]:
    """Rename staged shards to ``part-NNNNN-of-MMMMM.parquet`` in their published directory."""
    staged = sorted(
        m.path
        for m in FileSystems.match([FileSystems.join(staging, kind, f"{kind}-*.parquet")])[
            0
        ].metadata_list
    )
    target_dir = FileSystems.join(out, kind)
    FileSystems.mkdirs(target_dir) if not _exists(target_dir) else None
    shards = []
    total = len(staged)
    for i, src in enumerate(staged):
        name = f"part-{i:05d}-of-{total:05d}.parquet"
        dst = FileSystems.join(target_dir, name)
        with FileSystems.open(src) as fh:
            meta = pq.ParquetFile(fh).metadata
            rows = meta.num_rows
        size = FileSystems.match([src])[0].metadata_list[0].size_in_bytes
        FileSystems.rename([src], [dst])
        shards.append({"file": f"{kind}/{name}", "rows": rows, "bytes": size})
    return shards


def _stage_table(raw: dict[str, int], config: PipelineConfig) -> list[dict[str, Any]]:
    names = ["read"] + [name for _label, name, _ in curation_stages(config)]
    rows = []
    flowing = int(raw.get("input", 0))
    for name in names:
        leave = {
            f: int(raw.get(f"stage_fate:{name}:{f}", 0))
            for f in ("dropped", "duplicate", "dead_letter")
        }
        out = flowing - sum(leave.values())
        rows.append({"stage": name, "in": flowing, **leave, "out": out})
        flowing = out
    return rows


def stage_msecs(result: Any, config: PipelineConfig) -> dict[str, int]:
    """Processing time per top-level step from the runner's own execution-time metrics.

    Beam fuses steps, so wall time per stage does not exist; the SDK harness still times every
    transform. Runners that do not report these metrics yield an empty mapping.
    """
    try:
        query = result.monitoring_metrics().query()
    except Exception:
        return {}
    totals: dict[str, int] = {}
    for m in query.get("counters", []):
        if "ptransform_execution_time:total_msecs" not in str(m.key.metric):
            continue
        top = str(m.key.step).split("/", 1)[0]
        totals[top] = totals.get(top, 0) + int(m.committed or 0)
    order = ["ReadCorpus"] + [label for label, _, _ in curation_stages(config)]
    known = {k: totals.pop(k, 0) for k in order}
    known["WriteAndAccount"] = sum(totals.values())
    return known


def _cost(config: PipelineConfig, manifest: dict[str, Any], stats: dict[str, Any]) -> dict:
    """Dataflow cost estimate from this run's own processing time (CPU seconds summed over
    workers from the runner's metrics, or wall seconds when the runner reports none)."""
    if not config.cost.enabled:
        return {"available": False, "why": "cost.enabled is false"}
    docs = manifest["counts"]["input"]
    msecs = sum(manifest["timings"].get("stage_msecs", {}).values())
    seconds = msecs / 1000 if msecs else manifest["timings"]["pipeline_seconds"]
    text_bytes = float(stats.get("bytes.input", 0))
    read_docs = docs - manifest["counts"]["dead_letter"]
    c = config.cost
    prices = Prices(
        vcpu_hour_usd=c.vcpu_hour_usd,
        memory_gb_hour_usd=c.memory_gb_hour_usd,
        shuffle_gb_usd=c.shuffle_gb_usd,
        vcpus_per_worker=c.vcpus_per_worker,
        memory_gb_per_worker=c.memory_gb_per_worker,
        shuffle_factor=c.shuffle_factor,
    )
    result = estimate(docs / seconds if seconds else 0.0, text_bytes / max(read_docs, 1), prices)
    result["basis"] = "this run" + (" (runner CPU metrics)" if msecs else " (wall time)")
    if docs < 10_000:
        result["caveat"] = "small run: fixed start-up costs inflate the estimate"
    return result


def print_summary(manifest: dict[str, Any], stream: Any = sys.stderr) -> None:
    counts = manifest["counts"]
    secs = manifest["timings"]["pipeline_seconds"]
    print("\nstage          in          dropped   duplicate dead_letter         out", file=stream)
    for row in manifest["stages"]:
        print(
            f"{row['stage']:<12}{row['in']:>10,}{row['dropped']:>11,}{row['duplicate']:>12,}"
            f"{row['dead_letter']:>12,}{row['out']:>12,}",
            file=stream,
        )
    rate = counts["input"] / secs if secs else 0.0
    print(
        f"input {counts['input']:,} = kept {counts['kept']:,} + dropped {counts['dropped']:,} + "
        f"duplicate {counts['duplicate']:,} + dead_letter {counts['dead_letter']:,}  "
        f"[{'balanced' if manifest['accounting']['balanced'] else 'NOT BALANCED'}]  "
        f"{secs:.1f}s, {rate:,.0f} docs/s",
        file=stream,
    )


def _write_manifest(out: str, manifest: dict[str, Any]) -> None:
    path = FileSystems.join(out, MANIFEST)
    tmp = path + ".inprogress"
    with FileSystems.create(tmp) as fh:
        fh.write((json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    FileSystems.rename([tmp], [path])


def execute(
    config: PipelineConfig,
    beam_args: Sequence[str] = (),
    overwrite: bool = False,
    recipe_path: str | None = None,
) -> RunOutcome:
    """Run ``config`` end to end. Raises ``ThresherError`` subclasses for usage problems
    (before anything runs) and for failed runs (after the books are written)."""
    started = time.time()
    out = config.output.path
    prepare_output(out, overwrite)
    files: list[InputFile] = resolve_inputs(config.input.paths, config.input.exclude)
    options = pipeline_options(beam_args)
    staging = FileSystems.join(out, STAGING)
    FileSystems.mkdirs(out) if not _exists(out) else None

    p = beam.Pipeline(options=options)
    build_pipeline(p, config, files, staging)
    t0 = time.time()
    result = p.run()
    state = result.wait_until_finish()
    pipeline_seconds = time.time() - t0
    if state not in (PipelineState.DONE, None):
        raise RunFailedError(f"the Beam pipeline ended in state {state}; see the runner's logs")

    with FileSystems.open(FileSystems.join(staging, COUNTS_FILE)) as fh:
        raw = json.loads(fh.read().decode("utf-8"))

    counts = summarize(raw)
    failure: str | None = None
    try:
        accounting = check_balance(raw)
    except Exception as exc:
        accounting = {"balanced": False, "error": str(exc)}
        failure = str(exc)
    dl_fraction = counts["dead_letter"] / counts["input"] if counts["input"] else 0.0
    limit = config.limits.max_dead_letter_fraction
    if failure is None and dl_fraction > limit:
        failure = (
            f"dead-letter fraction {dl_fraction:.4f} ({counts['dead_letter']} of "
            f"{counts['input']} input records) exceeds limits.max_dead_letter_fraction={limit}; "
            "inspect dead_letter/ and fix the input, or raise the limit"
        )

    outputs: dict[str, list[dict[str, Any]]] = {}
    kinds = PUBLISHED + (("index",) if config.dedup.near.enabled else ())
    for kind in kinds:
        if kind in ("data", "index") and failure is not None:
            continue  # a failed run publishes its books for diagnosis, never its data
        outputs[kind] = _publish(staging, out, kind)
    FileSystems.delete([staging])

    finished = time.time()
    per_source = {k[len("source:") :]: v for k, v in raw.items() if k.startswith("source:")}
    manifest: dict[str, Any] = {
        "thresher_version": thresher.__version__,
        "status": "failed" if failure else "succeeded",
        "failure": failure,
        "recipe": config.model_dump(mode="json"),
        "recipe_hash": config.recipe_hash(),
        "recipe_path": recipe_path,
        "runner": str(options.view_as(StandardOptions).runner),
        "inputs": [
            {"path": f.path, "size_bytes": f.size_bytes, "records": per_source.get(f.path, 0)}
            for f in files
        ],
        "counts": counts,
        "accounting": accounting,
        "dead_letter_fraction": round(dl_fraction, 6),
        "stats": raw.get("stats", {}),
        "examples": raw.get("examples", {}),
        **manifest_sections(config, raw.get("stats", {})),
        "stages": _stage_table(raw, config),
        "outputs": outputs,
        "timings": {
            "started_at": datetime.fromtimestamp(started, UTC).isoformat(),
            "finished_at": datetime.fromtimestamp(finished, UTC).isoformat(),
            "pipeline_seconds": round(pipeline_seconds, 3),
            "total_seconds": round(finished - started, 3),
            "docs_per_second": round(counts["input"] / pipeline_seconds, 1)
            if pipeline_seconds
            else None,
            "stage_msecs": stage_msecs(result, config),
        },
    }
    manifest["cost"] = _cost(config, manifest, raw.get("stats", {}))
    _write_manifest(out, manifest)
    # Render from the manifest as saved (sorted keys), exactly as `thresher report` will.
    saved = json.loads(json.dumps(manifest, sort_keys=True))
    write_report(out, saved)
    write_card(out, saved)
    return RunOutcome(manifest=manifest, succeeded=failure is None)
