"""Launch a curation run: check the output, resolve inputs, run the pipeline, balance the
books, publish the shards and write the manifest."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.runner import PipelineState

import thresher
from thresher import warm
from thresher.accounting import check_balance, summarize
from thresher.card import write_card
from thresher.config import PipelineConfig
from thresher.construction import gc_paused, prompt_bundles, quick_construction
from thresher.core import statkeys
from thresher.core.cost import Prices, estimate
from thresher.cores import MAX_LOCAL_WORKERS, local_workers  # noqa: F401 (re-exported)
from thresher.errors import AccountingError, ConfigError, RunFailedError
from thresher.io.read import InputFile, resolve_inputs
from thresher.output import Manifest, carry, fs, layout, write_manifest
from thresher.output.manifest import (
    Accounting,
    Batching,
    Counts,
    InputEntry,
    Shard,
    StageRow,
    Timings,
)
from thresher.pipeline import COUNTS_FILE, build_pipeline
from thresher.plan import (
    WRITE_LABEL,
    StageSpec,
    manifest_sections,
    stage_labels,
    stage_names,
    stage_plan,
)
from thresher.report import write_report

PUBLISHED = (layout.DATA, layout.LINEAGE, layout.DEAD_LETTER)
DEFAULT_RUNNER = "FnApiRunner"  # Beam's DirectRunner first tries to download Prism.


@dataclass(frozen=True)
class RunOutcome:
    manifest: Manifest
    succeeded: bool


def pipeline_options(beam_args: Sequence[str], workers: int = 1) -> PipelineOptions:
    """Beam options exactly as given, plus thresher's offline default runner when none is, and
    ``workers`` local worker processes when more than one."""
    args = list(beam_args)
    if workers > 1:
        args += [
            f"--direct_num_workers={workers}",
            "--direct_running_mode=multi_processing",
        ]
    options = PipelineOptions(args)
    if options.view_as(StandardOptions).runner is None:
        options = PipelineOptions([*args, f"--runner={DEFAULT_RUNNER}"])
    return options


def worker_count(options: PipelineOptions) -> int:
    """Local workers the options ask for (``--direct_num_workers``; 0 means one per core)."""
    from apache_beam.options.pipeline_options import DirectOptions

    direct = options.view_as(DirectOptions)
    if direct.direct_running_mode not in ("multi_processing", "multi_threading"):
        return 1
    return direct.direct_num_workers or (os.cpu_count() or 1)


def _workers_line(options: PipelineOptions, workers: int, explicit: bool) -> str:
    runner = options.view_as(StandardOptions).runner
    n = worker_count(options)
    if explicit:
        chosen = "as the Beam options say"
    elif workers > 1:
        chosen = "one per free core; a Beam option such as --direct_num_workers 1 chooses instead"
    else:
        chosen = "one free core, no CPU-heavy stage, or no loopback network for workers"
    return f"thresher: {runner}, {n} worker{'s' if n > 1 else ''} ({chosen})"


def check_runner(options: PipelineOptions) -> None:
    """Resolve the runner before anything is created: an unknown ``--runner`` is a usage
    error (exit 2), not a traceback after the output folder exists."""
    name = options.view_as(StandardOptions).runner
    try:
        beam.runners.create_runner(name)
    except (ValueError, ImportError) as exc:
        raise ConfigError(
            f"--runner {name!r} is not a Beam runner this installation can load "
            f"({type(exc).__name__}); use e.g. FnApiRunner (local), DataflowRunner, "
            "FlinkRunner or PortableRunner"
        ) from exc


def _stage_table(raw: dict[str, int], plan: list[StageSpec]) -> list[StageRow]:
    rows = []
    flowing = int(raw.get("input", 0))
    for name in stage_names(plan):
        leave = {
            f: int(raw.get(f"stage_fate:{name}:{f}", 0))
            for f in ("dropped", "duplicate", "dead_letter")
        }
        out = flowing - sum(leave.values())
        rows.append(StageRow(stage=name, in_=flowing, out=out, **leave))
        flowing = out
    return rows


def stage_msecs(result: Any, plan: list[StageSpec]) -> dict[str, int]:
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
    known = {k: totals.pop(k, 0) for k in stage_labels(plan)}
    known[WRITE_LABEL] = sum(totals.values())
    return known


def _cost(config: PipelineConfig, counts: Counts, timings: Timings, stats: dict) -> dict:
    """Dataflow cost estimate from this run's own processing time (CPU seconds summed over
    workers from the runner's metrics, or wall seconds when the runner reports none)."""
    if not config.cost.enabled:
        return {"available": False, "why": "cost.enabled is false"}
    docs = counts.input
    msecs = sum(timings.stage_msecs.values())
    seconds = msecs / 1000 if msecs else timings.pipeline_seconds
    text_bytes = float(stats.get(statkeys.text_bytes("input"), 0))
    read_docs = docs - counts.dead_letter
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


def print_summary(manifest: Manifest, stream: Any = sys.stderr) -> None:
    """The per-stage table and the balance line; columns fit the longest stage name."""
    counts = manifest.counts
    secs = manifest.timings.pipeline_seconds
    width = max([len("stage"), *(len(row.stage) for row in manifest.stages)]) + 2
    cols = ("in", "dropped", "duplicate", "dead_letter", "out")
    print("\n" + "stage".ljust(width) + "".join(f"{c:>12}" for c in cols), file=stream)
    for row in manifest.stages:
        values = (row.in_, row.dropped, row.duplicate, row.dead_letter, row.out)
        print(row.stage.ljust(width) + "".join(f"{v:>12,}" for v in values), file=stream)
    rate = counts.input / secs if secs else 0.0
    print(
        f"input {counts.input:,} = kept {counts.kept:,} + dropped {counts.dropped:,} + "
        f"duplicate {counts.duplicate:,} + dead_letter {counts.dead_letter:,}  "
        f"[{'balanced' if manifest.accounting.balanced else 'NOT BALANCED'}]  "
        f"{secs:.1f}s, {rate:,.0f} docs/s",
        file=stream,
    )


def _dead_letter_failure(counts: Counts, limit: float, stagings: Sequence[str]) -> str | None:
    """Why the run fails on its dead letters (top reasons, counts, a likely fix), or None."""
    fraction = counts.dead_letter / counts.input if counts.input else 0.0
    if fraction <= limit:
        return None
    top = sorted(counts.dead_letter_by_reason.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    reasons = "; ".join(f"{reason}: {n}" for reason, n in top)
    example = _first_message(stagings, top[0][0]) if top else None
    return (
        f"dead-letter fraction {fraction:.4f} ({counts.dead_letter} of {counts.input} input "
        f"records) exceeds limits.max_dead_letter_fraction={limit}. Top reasons: {reasons}"
        + (f" (first message: {example})" if example else "")
        + ". Inspect dead_letter/ and fix the input or the recipe's input section, or raise "
        "the limit"
    )


def _first_message(stagings: Sequence[str], reason: str) -> str | None:
    """The first staged dead letter's message for ``reason`` (messages never quote input
    text)."""
    for staging in stagings:
        for shard in fs.files(fs.join(staging, layout.DEAD_LETTER), "*.parquet"):
            table = fs.read_table(shard, columns=["error_type", "message"])
            for row in table.to_pylist():
                if row["error_type"] == reason:
                    return str(row["message"])
    return None


@dataclass(frozen=True)
class _Books:
    counts: Counts
    accounting: Accounting
    failure: str | None


def _balance(raw: dict[str, Any], config: PipelineConfig) -> _Books:
    counts = Counts.model_validate(summarize(raw))
    try:
        accounting = Accounting.model_validate(check_balance(raw))
    except AccountingError as exc:
        return _Books(counts, Accounting(balanced=False, error=str(exc)), str(exc))
    return _Books(counts, accounting, None)


def published_kinds(config: PipelineConfig) -> tuple[str, ...]:
    return PUBLISHED + ((layout.INDEX,) if config.dedup.near.enabled else ())


def _publish_all(
    config: PipelineConfig, stagings: list[str], out: str, failed: bool, delete: bool = True
) -> dict[str, list[Shard]]:
    kinds = published_kinds(config)
    outputs: dict[str, list[Shard]] = {}
    for kind in kinds:
        if kind in (layout.DATA, layout.INDEX) and failed:
            continue  # a failed run publishes its books for diagnosis, never its data
        entries = layout.publish_many(stagings, out, kind)
        outputs[kind] = [Shard.model_validate(e) for e in entries]
    if delete:
        fs.delete(stagings)
    return outputs


def launch(p: beam.Pipeline) -> tuple[Any, float]:
    """Run ``p`` to the end; its result and wall seconds. ``RunFailedError`` unless DONE."""
    t0 = time.time()
    result = p.run()
    state = result.wait_until_finish()
    seconds = time.time() - t0
    if state not in (PipelineState.DONE, None):
        raise RunFailedError(f"the Beam pipeline ended in state {state}; see the runner's logs")
    return result, seconds


@dataclass(frozen=True)
class Ran:
    """What the pipeline run(s) left for the books: the (summed) raw counters, the staging
    directories in publishing order, and the runner's timings."""

    raw: dict[str, Any]
    stagings: list[str]
    pipeline_seconds: float
    stage_msecs: dict[str, int]
    batching: Batching | None = None
    # Batched runs delete their staging only once the manifest is written (resume needs it).
    delete_stagings: bool = True


def finish(
    config: PipelineConfig,
    options: PipelineOptions,
    files: Sequence[InputFile],
    plan: list[StageSpec],
    ran: Ran,
    carried: carry.Carried,
    recipe_path: str | None,
    started: float,
) -> RunOutcome:
    """Balance the books, publish the staged shards, write manifest, report and card."""
    out = config.output.path
    raw = ran.raw
    books = _balance(raw, config)
    failure = books.failure or _dead_letter_failure(
        books.counts, config.limits.max_dead_letter_fraction, ran.stagings
    )
    outputs = _publish_all(config, ran.stagings, out, failure is not None, ran.delete_stagings)

    finished = time.time()
    per_source = {k[len("source:") :]: v for k, v in raw.items() if k.startswith("source:")}
    counts = books.counts
    stats = raw.get("stats", {})
    seconds = ran.pipeline_seconds
    timings = Timings(
        started_at=datetime.fromtimestamp(started, UTC).isoformat(),
        finished_at=datetime.fromtimestamp(finished, UTC).isoformat(),
        pipeline_seconds=round(seconds, 3),
        total_seconds=round(finished - started, 3),
        docs_per_second=round(counts.input / seconds, 1) if seconds else None,
        stage_msecs=ran.stage_msecs,
    )
    manifest = Manifest(
        thresher_version=thresher.__version__,
        status="failed" if failure else "succeeded",
        failure=failure,
        recipe=config.recipe_dict(),
        recipe_hash=config.recipe_hash(),
        recipe_path=recipe_path,
        runner=str(options.view_as(StandardOptions).runner),
        inputs=[
            InputEntry(
                path=f.path,
                size_bytes=f.size_bytes,
                records=per_source.get(f.path, 0),
                source=f.path if config.output.absolute_sources else f.published,
            )
            for f in files
        ],
        counts=counts,
        accounting=books.accounting,
        dead_letter_fraction=round(counts.dead_letter / counts.input if counts.input else 0.0, 6),
        stats=stats,
        examples=raw.get("examples", {}),
        stages=_stage_table(raw, plan),
        outputs=outputs,
        timings=timings,
        cost=_cost(config, counts, timings, stats),
        batching=ran.batching,
        **manifest_sections(config, stats),
        **carried.manifest_fields(),
    )
    write_manifest(out, manifest)
    # Render from the manifest as saved, exactly as `thresher report` will.
    write_report(out, manifest)
    write_card(out, manifest)
    return RunOutcome(manifest=manifest, succeeded=failure is None)


def execute(
    config: PipelineConfig,
    beam_args: Sequence[str] = (),
    overwrite: bool = False,
    recipe_path: str | None = None,
    workers: int | None = None,
) -> RunOutcome:
    """Run ``config`` end to end. Raises ``ThresherError`` subclasses for usage problems
    (before anything runs) and for failed runs (after the books are written).

    On the local runners an input larger than ``local.batch_records`` runs in batches
    (:mod:`thresher.batched`); rerunning the command of an unfinished batched run resumes it.
    """
    started = time.time()
    if workers is None:
        workers = local_workers(config, beam_args)
    with warm.serving(config, workers), quick_construction(), prompt_bundles():
        return _execute(config, beam_args, overwrite, recipe_path, started, workers)


def _execute(
    config: PipelineConfig,
    beam_args: Sequence[str],
    overwrite: bool,
    recipe_path: str | None,
    started: float,
    workers: int,
) -> RunOutcome:
    out = config.output.path
    options = pipeline_options(beam_args, workers)
    check_runner(options)
    if os.environ.get("THRESHER_PROGRESS") == "1":
        # read by every worker's progress line (worker processes inherit the environment)
        os.environ["THRESHER_WORKERS"] = str(worker_count(options))
        print(_workers_line(options, workers, bool(beam_args)), file=sys.stderr, flush=True)
    from thresher import batched

    size = batched.batch_size(config, options)
    if size and not overwrite and batched.unfinished(out):
        return batched.resume(config, options, recipe_path, started)
    carried = carry.collect(out) if overwrite else carry.Carried()
    layout.prepare(out, overwrite, keep=carry.KEPT)
    files: list[InputFile] = resolve_inputs(config.input.paths, config.input.exclude)
    staging = layout.path(out, layout.STAGING)
    fs.mkdirs(out)
    if size:
        cut = batched.cut(config, files, size)
        if len(cut.batches) > 1:
            return batched.start(config, options, files, cut, carried, recipe_path, started)

    plan = stage_plan(config, carried.erased)
    p = beam.Pipeline(runner=warm.runner(), options=options)
    with gc_paused():  # the graph's objects live until the run ends
        build_pipeline(p, config, files, staging, plan)
    result, pipeline_seconds = launch(p)
    raw = fs.read_json(fs.join(staging, COUNTS_FILE))
    ran = Ran(raw, [staging], pipeline_seconds, stage_msecs(result, plan))
    return finish(config, options, files, plan, ran, carried, recipe_path, started)
