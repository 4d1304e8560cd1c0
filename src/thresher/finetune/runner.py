"""One ``thresher finetune`` run: data, model, DP-SGD with checkpoints, ledger, evaluation.

Order of effects, chosen so that the privacy ledger is right at every instant:

1. read the dataset, split units, resolve the model, delta and noise (nothing written yet);
2. append the run's ledger entry (``status: running``, nothing charged) before any step;
3. for each window of ``checkpoint_every`` steps: charge the ledger to the window's end, run
   the steps, save a checkpoint (``MODEL_DIR/checkpoint/``, replaced atomically);
4. save the model, mark the ledger entry ``completed`` (the exact epsilon of all steps), write
   ``MODEL_DIR/finetune_report.json``, drop the checkpoint.

Running the same command again after an interruption (crash, Ctrl-C, ``--stop-after``) finds
the checkpoint, checks that data, model and settings are the same, and carries on under the
same ``run_id``: the ledger keeps one entry for the run and its charge is never counted twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import thresher
from thresher.config import FinetuneConfig
from thresher.errors import ConfigError, OutputError
from thresher.finetune import data as data_mod
from thresher.finetune import ledger as ledger_mod
from thresher.finetune import models as models_mod
from thresher.finetune import train as train_mod
from thresher.finetune._deps import require, require_all

REPORT = "finetune_report.json"
CHECKPOINT = "checkpoint"
DEFAULT_DELTA_CAP = 1e-5
TOKENIZER_NOTE = (
    "tiny tokenizer trained on the training split; words used by fewer than "
    "tokenizer_min_units units are excluded; the vocabulary is not covered by the DP guarantee"
)


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


def default_delta(units: int) -> float:
    """min(1/(2N), 1e-5) for N training units: well below 1/N, the level at which a mechanism
    may publish one unit's data outright."""
    return min(1.0 / (2 * units), DEFAULT_DELTA_CAP)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _device(name: str) -> Any:
    torch = require("torch")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {name!r}: no CUDA device is available; use --device cpu")
    return torch.device(name)


def _fingerprint(config: FinetuneConfig, spec: models_mod.ModelSpec, manifest: str) -> str:
    # What must be identical for a checkpoint to be resumed; the budget only warns.
    settings = config.model_dump(mode="json", exclude={"epsilon_budget"})
    blob = json.dumps(
        {"settings": settings, "model": spec.describe(), "data": manifest}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _atomic_json(path: Path, payload: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2, sort_keys=True, default=str)
        fh.write("\n")
    os.replace(tmp, path)


def _prepare_output(out: Path, overwrite: bool) -> dict[str, Any] | None:
    """The checkpoint to resume, if any. Never deletes anything but a finished finetune
    output, and that only with ``overwrite``."""
    state_file = out / CHECKPOINT / "state.pt"
    if state_file.is_file():
        torch = require("torch")
        return dict(torch.load(state_file, map_location="cpu", weights_only=False))
    if (out / CHECKPOINT).is_dir() and not (out / REPORT).exists():
        # killed while writing its first checkpoint: nothing in it can be resumed
        shutil.rmtree(out / CHECKPOINT)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise OutputError(
                f"--output {str(out)!r} exists and is not empty; choose another directory or "
                "pass --overwrite to replace a previous finetune output"
            )
        if not (out / REPORT).is_file():
            raise OutputError(
                f"--output {str(out)!r} is not a finetune output (no {REPORT}); refusing to "
                "delete it even with --overwrite"
            )
        shutil.rmtree(out)
    return None


def _labels(corpus: data_mod.Corpus) -> list[str]:
    return sorted({r.label for r in corpus.rows if r.label is not None})


def _build(
    spec: models_mod.ModelSpec,
    config: FinetuneConfig,
    train_rows: list[tuple[str, str]],
    labels: list[str] | None,
    tokenizer_dir: Path | None,
) -> tuple[Any, Any]:
    torch = require("torch")
    torch.manual_seed(config.seed)  # head / tiny initialisation
    if spec.kind == "tiny":
        if tokenizer_dir is not None and (tokenizer_dir / "tokenizer.json").is_file():
            tokenizer = require("transformers").PreTrainedTokenizerFast.from_pretrained(
                str(tokenizer_dir)
            )
        else:
            tokenizer = models_mod.train_tokenizer(
                train_rows, config.tokenizer_vocab_size, config.tokenizer_min_units
            )
        torch.manual_seed(config.seed)
        return models_mod.build_tiny(tokenizer, config.max_length), tokenizer
    return models_mod.load_pretrained(spec, labels, config.max_length)


@dataclass(frozen=True)
class Task:
    """The dataset split by unit and the resolved model name: everything before weights."""

    corpus: data_mod.Corpus
    spec: models_mod.ModelSpec
    train_units: list[str]
    eval_units: list[str]
    labels: list[str] | None

    @property
    def train_texts(self) -> list[tuple[str, str]]:
        keep = set(self.train_units)
        return [(r.unit, r.text) for r in self.corpus.rows if r.unit in keep]

    def rows(self, units: list[str]) -> list[tuple[int, str, int | None]]:
        """``(unit index, text, label index)`` of the records of ``units``, in dataset order."""
        index = {u: i for i, u in enumerate(units)}
        label_id = {name: i for i, name in enumerate(self.labels or [])}
        return [
            (index[r.unit], r.text, label_id[r.label] if r.label is not None else None)
            for r in self.corpus.rows
            if r.unit in index
        ]


@dataclass
class Built:
    model: Any
    tokenizer: Any
    validator_fixes: int
    train_examples: list[train_mod.Example]
    eval_examples: list[train_mod.Example]


def load_task(data_dir: str | Path, model: str, config: FinetuneConfig) -> Task:
    """Read and split the dataset, resolve ``--model``; no torch needed yet."""
    corpus = data_mod.load_corpus(data_dir, config.unit_field, config.label_field)
    spec = models_mod.resolve_model(model, config.task)
    train_units, eval_units = data_mod.split_units(
        [r.unit for r in corpus.rows], config.eval_fraction
    )
    labels = _labels(corpus) if config.task == "classification" else None
    if labels is not None and len(labels) < 2:
        raise ConfigError(
            f"--label-field {config.label_field!r} has {len(labels)} distinct value(s); "
            "classification needs at least 2"
        )
    return Task(corpus, spec, train_units, eval_units, labels)


def build(
    task: Task, config: FinetuneConfig, device: Any, tokenizer_dir: Path | None = None
) -> Built:
    """Model and tokenizer (validated, frozen as asked, on ``device``) and encoded examples."""
    net, tokenizer = _build(task.spec, config, task.train_texts, task.labels, tokenizer_dir)
    net, fixed = models_mod.make_private_compatible(net)
    models_mod.freeze_all_but_last(net, config.train_last_layers)
    net.to(device)
    enc = train_mod.encode
    return Built(
        model=net,
        tokenizer=tokenizer,
        validator_fixes=fixed,
        train_examples=enc(task.rows(task.train_units), tokenizer, config.task, config.max_length),
        eval_examples=enc(task.rows(task.eval_units), tokenizer, config.task, config.max_length),
    )


def finetune(
    data_dir: str | Path,
    model: str,
    output: str | Path,
    config: FinetuneConfig,
    *,
    baseline: bool = False,
    stop_after: int | None = None,
    overwrite: bool = False,
    device: str = "cpu",
    warn: Callable[[str], None] | None = None,
) -> FinetuneResult:
    """Train ``model`` on the output dataset ``data_dir`` with DP-SGD; write ``output``.

    ``warn`` receives budget warnings as they arise (before training when the run would pass
    ``epsilon_budget``); they are also in ``FinetuneResult.warnings``."""
    require_all()
    torch = require("torch")
    opacus = require("opacus")
    dev = _device(device)
    task = load_task(data_dir, model, config)
    corpus, spec = task.corpus, task.spec
    train_units, eval_units = task.train_units, task.eval_units

    out = Path(output)
    resume = _prepare_output(out, overwrite)
    fingerprint = _fingerprint(config, spec, corpus.manifest_sha256)
    if resume is not None and resume["fingerprint"] != fingerprint:
        raise OutputError(
            f"--output {str(out)!r} holds a checkpoint of a different run (other data, model "
            "or settings); rerun with the same arguments to resume it, or choose another "
            "--output"
        )
    out.mkdir(parents=True, exist_ok=True)
    ckpt_dir = out / CHECKPOINT

    built = build(task, config, dev, ckpt_dir if resume else None)
    net, tokenizer, fixed = built.model, built.tokenizer, built.validator_fixes
    train_examples, eval_examples = built.train_examples, built.eval_examples
    pad_id = tokenizer.pad_token_id
    n_units = len(train_units)
    rate = min(1.0, config.batch_size / n_units)
    total_steps = max(1, round(config.epochs / rate))
    delta = config.delta if config.delta is not None else default_delta(n_units)
    delta_rule = "given" if config.delta is not None else "min(1/(2N), 1e-5)"
    if resume is not None:
        sigma = float(resume["noise_multiplier"])
    elif config.noise_multiplier is not None:
        sigma = config.noise_multiplier
    else:
        try:
            sigma = train_mod.noise_for(config.epsilon, delta, rate, total_steps, config.accountant)
        except ValueError as exc:
            raise ConfigError(
                f"--epsilon {config.epsilon} cannot be reached with {total_steps} steps at "
                f"sampling rate {rate:.4g}; raise --epsilon or lower --epochs"
            ) from exc

    def spent(steps: int) -> float:
        return train_mod.epsilon_for(sigma, rate, steps, delta, config.accountant)

    planned_epsilon = spent(total_steps)
    run_id = resume["run_id"] if resume else uuid.uuid4().hex
    base_entry: dict[str, Any] = {
        "run_id": run_id,
        "time": resume["started"] if resume else _now(),
        "model": spec.describe(),
        "model_dir": str(out.resolve()),
        "task": config.task,
        "unit": corpus.unit,
        "unit_field": config.unit_field,
        "units": n_units,
        "delta": delta,
        "delta_rule": delta_rule,
        "epsilon_target": config.epsilon,
        "epsilon_planned": planned_epsilon,
        "noise_multiplier": sigma,
        "max_grad_norm": config.max_grad_norm,
        "sampling_rate": rate,
        "expected_batch_size": config.batch_size,
        "max_examples_per_unit": config.max_examples_per_unit,
        "steps_planned": total_steps,
        "epochs": config.epochs,
        "accountant": config.accountant,
        "seed": config.seed,
        "secure_mode": config.secure_mode,
        "dataset": corpus.path,
        "dataset_manifest_sha256": corpus.manifest_sha256,
        "thresher_version": thresher.__version__,
        "opacus_version": opacus.__version__,
        "baseline_trained": baseline,
        "validator_fixes": fixed,
    }
    if spec.kind == "tiny":
        base_entry["tokenizer"] = TOKENIZER_NOTE
    notes: list[str] = []

    def note(line: str) -> None:
        notes.append(line)
        if warn is not None:
            warn(line)

    before = ledger_mod.cumulative(ledger_mod.read_ledger(data_dir), corpus.manifest_sha256)
    if resume is None and before["epsilon"] + planned_epsilon > config.epsilon_budget:
        note(
            f"cumulative epsilon on this dataset would reach "
            f"{before['epsilon'] + planned_epsilon:.3f} after this run ({before['runs']} "
            f"earlier run(s), basic composition), above finetune.epsilon_budget="
            f"{config.epsilon_budget}"
        )
    start_step = int(resume["step"]) if resume else 0
    if resume is None:
        ledger_mod.record(
            data_dir,
            {
                **base_entry,
                "status": "running",
                "epsilon": 0.0,
                "steps": 0,
                "steps_completed": 0,
                "updated": _now(),
            },
        )

    # Generators: seeded and checkpointed normally; from OS entropy in secure mode (and then
    # never written to disk: a saved noise state would let anyone replay the noise).
    sample_gen = torch.Generator()
    noise_gen = torch.Generator(device=dev)
    noise_rng = "torch generator seeded from finetune.seed"
    if config.secure_mode:
        try:
            csprng = require("torchcsprng")
            noise_gen = csprng.create_random_device_generator("/dev/urandom")
            noise_rng = "torchcsprng /dev/urandom"
        except ConfigError:
            noise_gen.manual_seed(secrets.randbits(63))
            noise_rng = "torch generator seeded from os.urandom (torchcsprng not installed)"
        sample_gen.manual_seed(secrets.randbits(63))
    else:
        sample_gen.manual_seed(config.seed)
        noise_gen.manual_seed(config.seed + 1)
    base_entry["noise_rng"] = noise_rng

    trainer = train_mod.DPTrainer(
        net,
        config.task,
        train_examples,
        learning_rate=_learning_rate(config, spec),
        noise_multiplier=sigma,
        max_grad_norm=config.max_grad_norm,
        expected_batch_size=config.batch_size * 1.0 if rate < 1 else float(n_units),
        physical_batch_size=config.physical_batch_size,
        pad_id=pad_id,
        device=dev,
        noise_generator=noise_gen,
        secure_mode=config.secure_mode,
    )
    sampler = train_mod.UnitSampler(
        train_mod.by_unit(train_examples, n_units), rate, config.max_examples_per_unit, sample_gen
    )
    if resume is not None:
        trainer.load_state_dict(resume["trainer"])
        if not config.secure_mode:
            sample_gen.set_state(resume["sample_gen"])
            noise_gen.set_state(resume["noise_gen"])
            torch.set_rng_state(resume["torch_rng"])
            if dev.type == "cuda" and "cuda_rng" in resume:
                torch.cuda.set_rng_state(resume["cuda_rng"], dev)

    def charge(steps: int) -> None:
        ledger_mod.record(
            data_dir,
            {
                **base_entry,
                "status": "running",
                "steps": steps,
                "epsilon": spent(steps),
                "updated": _now(),
            },
        )

    def checkpoint(steps: int) -> None:
        ckpt_dir.mkdir(exist_ok=True)
        if spec.kind == "tiny":
            tokenizer.save_pretrained(str(ckpt_dir))
        state = {
            "run_id": run_id,
            "fingerprint": fingerprint,
            "started": base_entry["time"],
            "step": steps,
            "noise_multiplier": sigma,
            "trainer": trainer.state_dict(),
        }
        if not config.secure_mode:
            state.update(
                sample_gen=sample_gen.get_state(),
                noise_gen=noise_gen.get_state(),
                torch_rng=torch.get_rng_state(),
            )
            if dev.type == "cuda":  # dropout on the GPU draws from the device's generator
                state["cuda_rng"] = torch.cuda.get_rng_state(dev)
        tmp = ckpt_dir / "state.tmp.pt"
        torch.save(state, tmp)
        os.replace(tmp, ckpt_dir / "state.pt")
        ledger_mod.record(data_dir, {**base_entry, "steps_completed": steps, "updated": _now()})

    seen = [0]

    def one_step() -> None:
        indices, owner = sampler.sample()
        trainer.step(indices, owner)
        seen[0] += len(indices)

    t0 = time.perf_counter()
    try:
        done = train_mod.run_steps(
            one_step,
            start_step,
            total_steps,
            config.checkpoint_every,
            stop_after,
            charge,
            checkpoint,
        )
    except KeyboardInterrupt:
        ledger_mod.record(data_dir, {**base_entry, "status": "interrupted", "updated": _now()})
        raise
    seconds = time.perf_counter() - t0
    result = FinetuneResult(
        status="completed" if done >= total_steps else "interrupted",
        run_id=run_id,
        model_dir=str(out),
        unit=corpus.unit,
        unit_field=config.unit_field,
        units=n_units,
        epsilon=spent(done),
        delta=delta,
        delta_rule=delta_rule,
        noise_multiplier=sigma,
        sampling_rate=rate,
        steps=done,
        steps_planned=total_steps,
        accountant=config.accountant,
        warnings=notes,
        resumed_from=start_step if resume else None,
    )
    if done - start_step > 0:
        result.dp_throughput = {
            "examples": seen[0],
            "seconds": seconds,
            "samples_per_second": seen[0] / seconds,
        }
    if result.status == "interrupted":
        entries = ledger_mod.record(
            data_dir, {**base_entry, "status": "interrupted", "updated": _now()}
        )
        result.epsilon = next(e["epsilon"] for e in entries if e["run_id"] == run_id)
        result.cumulative = ledger_mod.cumulative(entries, corpus.manifest_sha256)
        return result

    result.dp_metrics = train_mod.evaluate(
        net, config.task, eval_examples, config.physical_batch_size, pad_id, dev
    )
    if baseline:
        if spec.kind == "tiny":  # the same tokenizer, a fresh model from the same seed
            torch.manual_seed(config.seed)
            plain = models_mod.build_tiny(tokenizer, config.max_length)
        else:
            plain, _ = _build(spec, config, task.train_texts, task.labels, None)
        plain, _ = models_mod.make_private_compatible(plain)
        models_mod.freeze_all_but_last(plain, config.train_last_layers)
        plain.to(dev)
        base_gen = torch.Generator().manual_seed(config.seed + 2)
        result.baseline_throughput = train_mod.train_nonprivate(
            plain,
            config.task,
            train_examples,
            n_units,
            steps=total_steps,
            batch_size=config.batch_size,
            cap=config.max_examples_per_unit,
            learning_rate=_learning_rate(config, spec),
            physical_batch_size=config.physical_batch_size,
            pad_id=pad_id,
            device=dev,
            generator=base_gen,
        )
        result.baseline_metrics = train_mod.evaluate(
            plain, config.task, eval_examples, config.physical_batch_size, pad_id, dev
        )
    transformers = require("transformers")
    transformers.utils.logging.disable_progress_bar()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    entries = ledger_mod.record(
        data_dir,
        {
            **base_entry,
            "status": "completed",
            "steps": done,
            "steps_completed": done,
            "epsilon": result.epsilon,
            "updated": _now(),
            "finished": _now(),
        },
    )
    result.cumulative = ledger_mod.cumulative(entries, corpus.manifest_sha256)
    if result.cumulative["epsilon"] > config.epsilon_budget and not notes:
        note(
            f"cumulative epsilon on this dataset is {result.cumulative['epsilon']:.3f} over "
            f"{result.cumulative['runs']} run(s) (basic composition), above "
            f"finetune.epsilon_budget={config.epsilon_budget}"
        )
    report = {
        **result.as_dict(),
        "privacy": {
            k: base_entry[k]
            for k in (
                "unit",
                "unit_field",
                "units",
                "delta",
                "delta_rule",
                "noise_multiplier",
                "max_grad_norm",
                "sampling_rate",
                "accountant",
                "secure_mode",
                "noise_rng",
            )
        },
        "dataset": corpus.path,
        "dataset_manifest_sha256": corpus.manifest_sha256,
        "eval_units": len(eval_units),
        "model": spec.describe(),
        "settings": config.model_dump(mode="json"),
        "ledger": str(ledger_mod.ledger_path(data_dir)),
    }
    _atomic_json(out / REPORT, report)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    return result


def _learning_rate(config: FinetuneConfig, spec: models_mod.ModelSpec) -> float:
    if config.learning_rate is not None:
        return config.learning_rate
    return 2e-3 if spec.kind == "tiny" else 5e-4
