"""One ``thresher finetune`` run: data, model, DP-SGD with checkpoints, ledger, evaluation.

Order of effects, chosen so that the privacy ledger is right at every instant:

1. read the dataset, split units, resolve the model, the privacy plan (delta, noise) (nothing
   written yet but an empty ``MODEL_DIR``);
2. append the run's ledger entry (``status: running``, nothing charged) before any step;
3. for each window of ``checkpoint_every`` steps: charge the ledger to the window's end, run
   the steps, save a checkpoint (``MODEL_DIR/checkpoint/``, replaced atomically);
4. save the model, mark the ledger entry ``completed`` (the exact epsilon of all steps), write
   ``MODEL_DIR/finetune_report.json``, drop the checkpoint.

Running the same command again after an interruption (crash, Ctrl-C, ``--stop-after``) finds
the checkpoint, checks that data, model and settings are the same, and carries on under the
same ``run_id``: the ledger keeps one entry for the run and its charge is never counted twice.

The parts: ``task`` (dataset, model, examples), ``privacy`` (the plan), ``model_dir``
(checkpoint and outputs), ``session`` (DP-SGD state, checkpoints, ledger writes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thresher.config import FinetuneConfig
from thresher.finetune import ledger as ledger_mod
from thresher.finetune._deps import require_all
from thresher.finetune.dataset_io import ledger_path
from thresher.finetune.model_dir import ModelDir, run_fingerprint
from thresher.finetune.privacy import PrivacyPlan, budget_warning_after, budget_warning_before
from thresher.finetune.session import Progress, TrainingSession
from thresher.finetune.task import (
    Built,
    Task,
    build,
    evaluate,
    load_task,
    resolve_device,
    train_baseline,
)

# load_task and build stay importable from here: benchmarks/bench_dp.py times their parts.
__all__ = ["FinetuneResult", "build", "finetune", "load_task"]


@dataclass
class FinetuneResult:
    """What a run produced. ``status`` is ``completed`` or ``interrupted`` (resumable)."""

    status: str
    run_id: str
    model_dir: str
    unit: str
    unit_field: str | None
    units: int
    epsilon: float
    delta: float
    delta_rule: str
    noise_multiplier: float
    sampling_rate: float
    steps: int
    steps_planned: int
    accountant: str
    dp_metrics: dict[str, Any] | None = None
    baseline_metrics: dict[str, Any] | None = None
    dp_throughput: dict[str, float] | None = None
    baseline_throughput: dict[str, float] | None = None
    cumulative: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    resumed_from: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Warnings:
    """Budget warnings: kept for the result and passed to ``warn`` as they arise."""

    warn: Callable[[str], None] | None
    lines: list[str] = field(default_factory=list)

    def add(self, line: str | None) -> None:
        if line is None:
            return
        self.lines.append(line)
        if self.warn is not None:
            self.warn(line)


def finetune(
    *,
    data_dir: str | Path,
    model: str,
    output: str | Path,
    config: FinetuneConfig,
    baseline: bool = False,
    stop_after: int | None = None,
    overwrite: bool = False,
    device: str = "cpu",
    warn: Callable[[str], None] | None = None,
) -> FinetuneResult:
    """Train ``model`` (``tiny``, ``minilm`` or a local model directory) on the output dataset
    ``data_dir`` with DP-SGD; write ``output``; record the privacy in the dataset's ledger.

    ``baseline`` also trains and evaluates a non-private model; ``stop_after`` takes at most
    that many steps now, then checkpoints (rerun to resume); ``overwrite`` replaces a finished
    finetune output; ``device`` is ``cpu``, ``cuda`` or ``auto``. ``warn`` receives budget
    warnings as they arise (before training when the run would pass ``epsilon_budget``); they
    are also in ``FinetuneResult.warnings``. Raises ``ConfigError`` (settings, model, extra
    missing), ``InputError`` (dataset) or ``OutputError`` (``output``)."""
    require_all()
    dev = resolve_device(device)
    task = load_task(data_dir, model, config)
    out = ModelDir(Path(output))
    fingerprint = run_fingerprint(config, task.spec, task.corpus.manifest_sha256)
    resume = out.resume_point(overwrite=overwrite, fingerprint=fingerprint)
    built = build(task, config, dev, out.checkpoint_dir if resume else None)
    plan = PrivacyPlan.for_run(
        config,
        units=len(task.train_units),
        noise_multiplier=resume.noise_multiplier if resume else None,
    )
    notes = _Warnings(warn)
    before = ledger_mod.cumulative(ledger_mod.read_ledger(data_dir), task.corpus.dataset_hashes)
    if resume is None:
        notes.add(budget_warning_before(plan, before, config.epsilon_budget))
    session = TrainingSession.open(
        task,
        built,
        plan,
        config,
        dev,
        data_dir=data_dir,
        model_dir=out,
        fingerprint=fingerprint,
        resume=resume,
        baseline=baseline,
    )
    progress = session.train(stop_after)
    if progress.steps < plan.steps:
        return _interrupted(task, plan, out, session, progress, notes)
    return _complete(task, built, plan, config, dev, out, session, progress, baseline, notes)


def _interrupted(
    task: Task,
    plan: PrivacyPlan,
    out: ModelDir,
    session: TrainingSession,
    progress: Progress,
    notes: _Warnings,
) -> FinetuneResult:
    """Mark the ledger entry ``interrupted``; the result's epsilon is what the ledger charged
    (up to the end of the window the run stopped in)."""
    entries = session.mark_interrupted()
    run_id = session.identity.run_id
    epsilon = next(e["epsilon"] for e in entries if e["run_id"] == run_id)
    cumulative = ledger_mod.cumulative(entries, task.corpus.dataset_hashes)
    return _result(plan, out, session, progress, epsilon, cumulative, notes)


def _complete(
    task: Task,
    built: Built,
    plan: PrivacyPlan,
    config: FinetuneConfig,
    device: Any,
    out: ModelDir,
    session: TrainingSession,
    progress: Progress,
    baseline: bool,
    notes: _Warnings,
) -> FinetuneResult:
    """Evaluate (and train the baseline), save the model, complete the ledger entry, write the
    report, drop the checkpoint."""
    dp_metrics = evaluate(built.model, built, config, device)
    base = train_baseline(task, built, config, device, steps=plan.steps) if baseline else None
    entries = session.finish(progress.steps)
    cumulative = ledger_mod.cumulative(entries, task.corpus.dataset_hashes)
    if not notes.lines:
        notes.add(budget_warning_after(cumulative, config.epsilon_budget))
    epsilon = plan.epsilon_after(progress.steps)
    result = _result(plan, out, session, progress, epsilon, cumulative, notes)
    result.dp_metrics = dp_metrics
    if base is not None:
        result.baseline_throughput, result.baseline_metrics = base
    out.write_report(_report(result, task, plan, config, session.noise_rng, built.chat_template))
    out.drop_checkpoint()
    return result


def _result(
    plan: PrivacyPlan,
    out: ModelDir,
    session: TrainingSession,
    progress: Progress,
    epsilon: float,
    cumulative: dict[str, Any],
    notes: _Warnings,
) -> FinetuneResult:
    return FinetuneResult(
        status="completed" if progress.steps >= plan.steps else "interrupted",
        run_id=session.identity.run_id,
        model_dir=str(out.path),
        unit=plan.unit,
        unit_field=plan.unit_field,
        units=plan.units,
        epsilon=epsilon,
        delta=plan.delta,
        delta_rule=plan.delta_rule,
        noise_multiplier=plan.noise_multiplier,
        sampling_rate=plan.sampling_rate,
        steps=progress.steps,
        steps_planned=plan.steps,
        accountant=plan.accountant,
        dp_throughput=progress.throughput(),
        cumulative=cumulative,
        warnings=notes.lines,
        resumed_from=session.resumed_from,
    )


def _report(
    result: FinetuneResult,
    task: Task,
    plan: PrivacyPlan,
    config: FinetuneConfig,
    noise_rng: str,
    built_template: str | None,
) -> dict[str, Any]:
    """``finetune_report.json``: the result, the mechanism, the dataset and the settings
    (``chat_template``: the template conversations were rendered with, None if none were)."""
    return {
        **result.as_dict(),
        "privacy": {**plan.describe(), "noise_rng": noise_rng},
        "dataset": task.corpus.path,
        "dataset_manifest_sha256": task.corpus.manifest_sha256,
        "eval_units": len(task.eval_units),
        "model": task.spec.describe(),
        "conversations": task.corpus.conversations,
        "chat_template": built_template,
        "settings": config.model_dump(mode="json"),
        "ledger": str(ledger_path(task.corpus.path)),
    }
