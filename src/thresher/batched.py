"""Batched local runs: one Beam pipeline per batch of input positions, into one output.

On the local runners the runner holds every shuffle in memory, so a run's memory grows with
its input. When the input holds more positions than ``local.batch_records``, the launcher cuts
it into batches (:mod:`thresher.io.split`; large files are cut too) and runs the same recipe on
each in turn, staging each batch's shards under ``DIR/_batches/NNNNN/``. Deduplication crosses
batches: exact dedup reads the content keys kept by earlier batches (their ``keys/`` files)
and near dedup their index shards (as ``--dedup-against`` does), each filtered to what can
match the current batch, so a duplicate of a record kept in an earlier batch leaves naming it.
At the end the batches' counters are summed into one set of books, every batch's shards are
published as one numbered set, and one manifest, report and card are written.

``DIR/journal.json`` (:mod:`thresher.output.journal`) records each finished batch; rerunning
the same command continues after the last one. Remote runners never batch.

What differs from an unbatched run (docs/scaling.md): which member of a cluster that spans
batches is kept (the one in the earliest batch), and a record near-similar only to a record
an earlier batch already removed is kept (that batch's index holds kept records only).
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from thresher import progress, warm
from thresher.config import PipelineConfig
from thresher.construction import gc_paused
from thresher.core.statkeys import is_per_run
from thresher.errors import OutputError
from thresher.io.read import IDS, InputFile, read_options, resolve_inputs
from thresher.io.split import BatchPlan, plan_batches
from thresher.output import carry, fs, journal, layout
from thresher.output.manifest import Batching
from thresher.pipeline import COUNTS_FILE, EXAMPLES_PER_REASON, build_pipeline
from thresher.plan import Earlier, StageSpec, stage_plan
from thresher.run import Ran, RunOutcome, finish, launch, published_kinds, stage_msecs
from thresher.runners import is_local
from thresher.stages.exact_dedup import KEYS

# Tests only: crash a batched run at a chosen point ("inside:K" after batch K's pipeline ran
# but before the journal records it; "after:K" once it does; K counts from 1).
CRASH_ENV = "THRESHER_TEST_CRASH"


class SimulatedCrash(RuntimeError):
    """Raised by the ``THRESHER_TEST_CRASH`` hook (tests of resume)."""


def batch_size(config: PipelineConfig, options: PipelineOptions) -> int | None:
    """``local.batch_records`` on the local runners; None (one pipeline) elsewhere."""
    if not is_local(options.view_as(StandardOptions).runner):
        return None
    return config.local.batch_records


def unfinished(out: str) -> bool:
    """Whether ``out`` holds a batched run that has not written its manifest yet."""
    return journal.exists(out) and not layout.is_output(out)


def cut(config: PipelineConfig, files: Sequence[InputFile], size: int) -> BatchPlan:
    return plan_batches([f.path for f in files], read_options(config.input), size)


def batch_dir(out: str, index: int) -> str:
    return layout.path(out, layout.BATCHES, f"{index:05d}")


def _journal_recipe(config: PipelineConfig) -> dict[str, Any]:
    recipe: dict[str, Any] = config.model_dump(mode="json")  # with `local`
    return recipe


def start(
    config: PipelineConfig,
    options: PipelineOptions,
    files: Sequence[InputFile],
    batches: BatchPlan,
    carried: carry.Carried,
    recipe_path: str | None,
    started: float,
) -> RunOutcome:
    """Run a new batched run (the output directory is prepared and empty)."""
    recipe = _journal_recipe(config)
    inputs = journal.describe_inputs(files)
    record = journal.Journal(
        fingerprint=journal.fingerprint(recipe, inputs),
        recipe=recipe,
        inputs=inputs,
        batch_records=int(config.local.batch_records or 0),
        positions=batches.positions,
        batches=[[s.as_tuple() for s in batch] for batch in batches.batches],
        previous_manifest_hashes=list(carried.previous_hashes),
    )
    journal.write(config.output.path, record)
    return _run(config, options, files, record, carried, recipe_path, started)


def resume(
    config: PipelineConfig, options: PipelineOptions, recipe_path: str | None, started: float
) -> RunOutcome:
    """Continue the unfinished batched run in ``output.path`` after its last finished batch;
    ``OutputError`` naming what changed when the recipe or the input is not the same."""
    out = config.output.path
    record = journal.read(out)
    files = resolve_inputs(config.input.paths, config.input.exclude)
    changed = journal.changes(record, _journal_recipe(config), journal.describe_inputs(files))
    if changed:
        shown = "; ".join(changed[:10]) + (
            f"; and {len(changed) - 10} more" if len(changed) > 10 else ""
        )
        raise OutputError(
            f"output.path {out!r} holds an unfinished batched run ({len(record.finished)} of "
            f"{len(record.batches)} batches done) of another recipe or input: {shown}. Rerun "
            "the command it was started with to continue it, or pass --overwrite to start over"
        )
    on_disk = carry.collect(out)  # erasure receipts stay in place; the old manifest is gone
    carried = carry.Carried(
        tuple(record.previous_manifest_hashes), on_disk.erasures, on_disk.erased
    )
    if progress.enabled():
        print(
            f"[thresher] resuming {out}: {len(record.finished)} of {len(record.batches)} "
            "batches already done",
            file=sys.stderr,
            flush=True,
        )
    return _run(config, options, files, record, carried, recipe_path, started)


def _earlier(out: str, before: int) -> Earlier:
    """The keys files and index shards of batches ``0 .. before - 1``."""
    keys: list[str] = []
    index: list[str] = []
    ids: list[str] = []
    for j in range(before):
        keys += fs.files(fs.join(batch_dir(out, j), KEYS), "*.parquet")
        index += fs.files(fs.join(batch_dir(out, j), layout.INDEX), "*.parquet")
        ids += fs.files(fs.join(batch_dir(out, j), IDS), "*.parquet")
    return Earlier(tuple(keys), tuple(index), tuple(ids))


def _crash_hook(point: str, number: int) -> None:
    if os.environ.get(CRASH_ENV) == f"{point}:{number}":
        raise SimulatedCrash(f"{CRASH_ENV}={point}:{number}")


def _run_batch(
    config: PipelineConfig,
    options: PipelineOptions,
    files: Sequence[InputFile],
    record: journal.Journal,
    carried: carry.Carried,
    index: int,
) -> journal.FinishedBatch:
    out = config.output.path
    staging = batch_dir(out, index)
    fs.delete([staging])  # what a crash inside this batch left behind
    progress.start_batch(index + 1, len(record.batches))
    earlier = _earlier(out, index)
    plan = stage_plan(config, carried.erased, earlier)
    p = beam.Pipeline(runner=warm.runner(), options=options)
    with gc_paused():  # as in run._execute: the graph's objects live until the batch ends
        build_pipeline(
            p, config, files, staging, plan, spans=record.batches[index], earlier_ids=earlier.ids
        )
    result, seconds = launch(p)
    _crash_hook("inside", index + 1)
    return journal.FinishedBatch(
        index=index,
        spans=record.batches[index],
        fingerprint=record.fingerprint,
        pipeline_seconds=round(seconds, 3),
        stage_msecs=stage_msecs(result, plan),
        finished_at=datetime.now(UTC).isoformat(),
    )


def _run(
    config: PipelineConfig,
    options: PipelineOptions,
    files: Sequence[InputFile],
    record: journal.Journal,
    carried: carry.Carried,
    recipe_path: str | None,
    started: float,
) -> RunOutcome:
    out = config.output.path
    for index in range(len(record.finished), len(record.batches)):
        done = _run_batch(config, options, files, record, carried, index)
        record = record.model_copy(update={"finished": [*record.finished, done]})
        journal.write(out, record)
        _crash_hook("after", index + 1)
    stagings = [batch_dir(out, i) for i in range(len(record.batches))]
    _undo_publishing(record)
    moves = [
        pair
        for kind in published_kinds(config)
        for pair in layout.publish_targets(stagings, out, kind)
    ]
    record = record.model_copy(update={"publishing": moves})
    journal.write(out, record)
    raw = sum_counts(fs.read_json(fs.join(s, COUNTS_FILE)) for s in stagings)
    ran = Ran(
        raw=raw,
        stagings=stagings,
        pipeline_seconds=sum(b.pipeline_seconds for b in record.finished),
        stage_msecs=_sum_msecs(b.stage_msecs for b in record.finished),
        batching=Batching(
            batch_records=record.batch_records,
            batches=len(record.batches),
            positions=record.positions,
        ),
        delete_stagings=False,
    )
    plan: list[StageSpec] = stage_plan(config, carried.erased)
    outcome = finish(config, options, files, plan, ran, carried, recipe_path, started)
    # _staging holds only what batches shared (the decontamination index file)
    fs.delete([layout.path(out, layout.BATCHES), layout.path(out, layout.STAGING)])
    return outcome


def _undo_publishing(record: journal.Journal) -> None:
    """Move back what a crash while publishing had already moved (a rerun publishes again)."""
    for staged, published in record.publishing:
        if fs.exists(published) and not fs.exists(staged):
            fs.rename(published, staged)


def _sum_msecs(parts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for part in parts:
        total.update(part)
    return dict(total)


def sum_counts(raws: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The batches' ``counts.json`` as one: counters and stats summed (per-run stats,
    ``statkeys.per_run``, by maximum), the examples of each reason merged (the smallest ids, as
    an unbatched run picks them)."""
    counters: Counter[str] = Counter()
    stats: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    for raw in raws:
        for key, value in raw.items():
            if key == "stats":
                for name, number in value.items():  # summed; per-run numbers: the largest
                    stats[name] = (
                        max(stats[name], number) if is_per_run(name) else (stats[name] + number)
                    )
            elif key == "examples":
                for reason, ids in value.items():
                    examples.setdefault(reason, []).extend(ids)
            else:
                counters[key] += int(value)
    merged: dict[str, Any] = dict(sorted(counters.items()))
    merged["stats"] = dict(sorted(stats.items()))
    merged["examples"] = {
        reason: sorted(ids)[:EXAMPLES_PER_REASON] for reason, ids in sorted(examples.items())
    }
    return merged
