"""One run's DP-SGD session: model, DP optimizer, sampler, generators, checkpoints, ledger.

``TrainingSession.open`` appends a new run's ledger entry (nothing charged yet) and sets up
Opacus's ``GradSampleModule`` + ``DPOptimizer`` (``train.DPTrainer``) with the plan's sigma,
clipping norm and expected batch size, and the unit sampler at the plan's sampling rate;
resuming, it loads the checkpoint's model, optimizer and generator states. ``train`` then
runs ``train.run_steps``: before each window of
``checkpoint_every`` steps the ledger is charged up to the window's end, after it a checkpoint is
saved and the ledger's ``steps_completed`` follows. A ``KeyboardInterrupt`` marks the entry
``interrupted`` before it propagates.

Generators (``Generators``): sampling is seeded from ``finetune.seed``, noise from
``seed + 1``, and both states (with torch's global one, which dropout uses; and the GPU's, on a
GPU) are checkpointed, so an interrupted and resumed run gives the same weights as one that was
never interrupted. In ``secure_mode`` both come from OS entropy (noise from torchcsprng when
installed) and their states are never written.

``RunLedger`` is this run's entry in ``DIR/privacy_ledger.json`` (see ``ledger``): the fixed
fields, and one method per moment the entry is written.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import thresher
from thresher.config import FinetuneConfig
from thresher.errors import ConfigError
from thresher.finetune import ledger as ledger_mod
from thresher.finetune import train as train_mod
from thresher.finetune._deps import require
from thresher.finetune.model_dir import Checkpoint, ModelDir, RunIdentity, utc_now
from thresher.finetune.privacy import PrivacyPlan
from thresher.finetune.task import Built, Task, learning_rate

TOKENIZER_NOTE = (
    "tiny tokenizer trained on the training split; words used by fewer than "
    "tokenizer_min_units units are excluded; the vocabulary is not covered by the DP guarantee"
)
SEEDED_NOISE = "torch generator seeded from finetune.seed"
CSPRNG_NOISE = "torchcsprng /dev/urandom"
URANDOM_NOISE = "torch generator seeded from os.urandom (torchcsprng not installed)"


def run_entry(
    *,
    identity: RunIdentity,
    plan: PrivacyPlan,
    task: Task,
    config: FinetuneConfig,
    model_dir: Path,
    baseline: bool,
    validator_fixes: int,
    chat_template: str | None = None,
) -> dict[str, Any]:
    """The fixed fields of this run's ledger entry (status and charge are added per write).
    A run on conversations also names what it trained on (``train_on``), the chat template
    and how many records of each kind the dataset holds; the unit is unchanged (a record, or
    all records of one ``unit_field`` value)."""
    entry: dict[str, Any] = {
        "run_id": identity.run_id,
        "time": identity.started,
        "model": task.spec.describe(),
        "model_dir": str(model_dir.resolve()),
        "task": config.task,
        **plan.ledger_fields(),
        "max_examples_per_unit": config.max_examples_per_unit,
        "epochs": config.epochs,
        "seed": config.seed,
        "dataset": task.corpus.path,
        "dataset_manifest_sha256": task.corpus.manifest_sha256,
        "thresher_version": thresher.__version__,
        "opacus_version": require("opacus").__version__,
        "baseline_trained": baseline,
        "validator_fixes": validator_fixes,
    }
    if task.spec.kind == "tiny":
        entry["tokenizer"] = TOKENIZER_NOTE
    if chat_template is not None:
        conversations = task.corpus.conversations
        entry["records"] = {
            "conversations": conversations,
            "documents": len(task.corpus.rows) - conversations,
        }
        entry["train_on"] = config.train_on
        entry["chat_template"] = chat_template
    return entry


@dataclass(frozen=True)
class RunLedger:
    """This run's entry in the privacy ledger of the dataset ``directory``."""

    directory: str | Path
    entry: dict[str, Any]

    def with_noise_rng(self, description: str) -> RunLedger:
        """The entry from the first charge on also names the noise generator."""
        return replace(self, entry={**self.entry, "noise_rng": description})

    def opened(self) -> None:
        """A new run, before its first step: nothing charged."""
        self._write({"status": "running", "epsilon": 0.0, "steps": 0, "steps_completed": 0})

    def charged(self, steps: int, epsilon: float) -> None:
        """Privacy charged up to ``steps``, before those steps are taken."""
        self._write({"status": "running", "steps": steps, "epsilon": epsilon})

    def checkpointed(self, steps: int) -> None:
        self._write({"steps_completed": steps})

    def interrupted(self) -> list[dict[str, Any]]:
        return self._write({"status": "interrupted"})

    def completed(self, steps: int, epsilon: float) -> list[dict[str, Any]]:
        """The final entry (frozen from now on): the exact epsilon of all ``steps``."""
        return self._write(
            {
                "status": "completed",
                "steps": steps,
                "steps_completed": steps,
                "epsilon": epsilon,
                "finished": utc_now(),
            }
        )

    def _write(self, fields: dict[str, Any]) -> list[dict[str, Any]]:
        """Append or update the entry (``ledger.record``); the ledger as written."""
        return ledger_mod.record(self.directory, {**self.entry, **fields, "updated": utc_now()})


@dataclass(frozen=True)
class Generators:
    """The sampling and noise generators of a run, and how the noise is drawn
    (``description``: the ledger's ``noise_rng``)."""

    sample: Any
    noise: Any
    description: str
    secure: bool
    device: Any

    @classmethod
    def create(cls, *, seed: int, secure: bool, device: Any) -> Generators:
        torch = require("torch")
        sample = torch.Generator()
        noise = torch.Generator(device=device)
        if not secure:
            sample.manual_seed(seed)
            noise.manual_seed(seed + 1)
            return cls(sample, noise, SEEDED_NOISE, secure, device)
        try:
            noise = require("torchcsprng").create_random_device_generator("/dev/urandom")
            description = CSPRNG_NOISE
        except ConfigError:
            noise.manual_seed(secrets.randbits(63))
            description = URANDOM_NOISE
        sample.manual_seed(secrets.randbits(63))
        return cls(sample, noise, description, secure, device)

    def state(self) -> dict[str, Any]:
        """The states to checkpoint by ``model_dir.RNG_KEYS`` name; none in secure mode."""
        if self.secure:
            return {}
        torch = require("torch")
        state = {
            "sample_gen": self.sample.get_state(),
            "noise_gen": self.noise.get_state(),
            "torch_rng": torch.get_rng_state(),
        }
        if self.device.type == "cuda":  # dropout on the GPU draws from the device's generator
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def restore(self, state: dict[str, Any]) -> None:
        """Back to the states ``state()`` returned (nothing to do in secure mode)."""
        if self.secure:
            return
        torch = require("torch")
        self.sample.set_state(state["sample_gen"])
        self.noise.set_state(state["noise_gen"])
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)


@dataclass(frozen=True)
class Progress:
    """What ``TrainingSession.train`` did: from step ``start`` to step ``steps``, drawing
    ``examples`` examples in ``seconds``."""

    start: int
    steps: int
    examples: int
    seconds: float

    def throughput(self) -> dict[str, float] | None:
        """DP-SGD throughput, ``None`` when no step was taken."""
        if self.steps - self.start <= 0:
            return None
        return {
            "examples": self.examples,
            "seconds": self.seconds,
            "samples_per_second": self.examples / self.seconds,
        }


def _trainer_and_sampler(
    task: Task,
    built: Built,
    plan: PrivacyPlan,
    config: FinetuneConfig,
    device: Any,
    generators: Generators,
) -> tuple[train_mod.DPTrainer, train_mod.UnitSampler]:
    """Opacus's DP optimizer with the plan's mechanism, and the Poisson sampler of units."""
    trainer = train_mod.DPTrainer(
        built.model,
        config.task,
        built.train_examples,
        learning_rate=learning_rate(config, task.spec),
        noise_multiplier=plan.noise_multiplier,
        max_grad_norm=plan.max_grad_norm,
        expected_batch_size=plan.expected_batch_size,
        physical_batch_size=config.physical_batch_size,
        pad_id=built.tokenizer.pad_token_id,
        device=device,
        noise_generator=generators.noise,
        secure_mode=config.secure_mode,
    )
    sampler = train_mod.UnitSampler(
        train_mod.by_unit(built.train_examples, plan.units),
        plan.sampling_rate,
        config.max_examples_per_unit,
        generators.sample,
    )
    return trainer, sampler


class TrainingSession:
    """The DP-SGD state of one run: ``trainer`` (model + DP optimizer), ``sampler``,
    ``generators``, and where its checkpoints and ledger writes go. Build with ``open``."""

    def __init__(
        self,
        *,
        built: Built,
        plan: PrivacyPlan,
        trainer: train_mod.DPTrainer,
        sampler: train_mod.UnitSampler,
        generators: Generators,
        ledger: RunLedger,
        model_dir: ModelDir,
        identity: RunIdentity,
        checkpoint_every: int,
        checkpoint_tokenizer: bool,
    ) -> None:
        self.built = built
        self.plan = plan
        self.trainer = trainer
        self.sampler = sampler
        self.generators = generators
        self.ledger = ledger
        self.model_dir = model_dir
        self.identity = identity
        self.checkpoint_every = checkpoint_every
        self.checkpoint_tokenizer = checkpoint_tokenizer
        self.start_step = 0
        self.resumed_from: int | None = None
        self.examples_seen = 0

    @classmethod
    def open(
        cls,
        task: Task,
        built: Built,
        plan: PrivacyPlan,
        config: FinetuneConfig,
        device: Any,
        *,
        data_dir: str | Path,
        model_dir: ModelDir,
        fingerprint: str,
        resume: Checkpoint | None,
        baseline: bool,
    ) -> TrainingSession:
        """A new run's session at step 0, its ledger entry appended (nothing charged); or the
        session of ``resume``'s run at its step, with its states restored."""
        identity = resume.identity if resume else RunIdentity.new(fingerprint)
        entry = run_entry(
            identity=identity,
            plan=plan,
            task=task,
            config=config,
            model_dir=model_dir.path,
            baseline=baseline,
            validator_fixes=built.validator_fixes,
            chat_template=built.chat_template,
        )
        ledger = RunLedger(data_dir, entry)
        if resume is None:
            ledger.opened()
        generators = Generators.create(seed=config.seed, secure=config.secure_mode, device=device)
        trainer, sampler = _trainer_and_sampler(task, built, plan, config, device, generators)
        session = cls(
            built=built,
            plan=plan,
            trainer=trainer,
            sampler=sampler,
            generators=generators,
            ledger=ledger.with_noise_rng(generators.description),
            model_dir=model_dir,
            identity=identity,
            checkpoint_every=config.checkpoint_every,
            checkpoint_tokenizer=task.spec.kind == "tiny",
        )
        if resume is not None:
            session.restore(resume)
        return session

    @property
    def noise_rng(self) -> str:
        return self.generators.description

    def snapshot(self, steps: int) -> Checkpoint:
        """The checkpoint of this session after ``steps`` steps."""
        return Checkpoint(
            identity=self.identity,
            step=steps,
            noise_multiplier=self.plan.noise_multiplier,
            trainer=self.trainer.state_dict(),
            rng=self.generators.state(),
        )

    def restore(self, checkpoint: Checkpoint) -> None:
        """Model, optimizer and generators as ``checkpoint`` saved them; carry on from its step."""
        self.trainer.load_state_dict(checkpoint.trainer)
        self.generators.restore(checkpoint.rng)
        self.start_step = self.resumed_from = checkpoint.step

    def step(self) -> None:
        """One DP-SGD step on a fresh Poisson draw of units."""
        indices, owner = self.sampler.sample()
        self.trainer.step(indices, owner)
        self.examples_seen += len(indices)

    def charge(self, steps: int) -> None:
        self.ledger.charged(steps, self.plan.epsilon_after(steps))

    def checkpoint(self, steps: int) -> None:
        tokenizer = self.built.tokenizer if self.checkpoint_tokenizer else None
        self.model_dir.save_checkpoint(self.snapshot(steps), tokenizer)
        self.ledger.checkpointed(steps)

    def train(self, stop_after: int | None = None) -> Progress:
        """Steps from ``start_step`` to the plan's last (at most ``stop_after`` of them now),
        charged and checkpointed window by window."""
        started = time.perf_counter()
        try:
            done = train_mod.run_steps(
                self.step,
                self.start_step,
                self.plan.steps,
                self.checkpoint_every,
                stop_after,
                self.charge,
                self.checkpoint,
            )
        except KeyboardInterrupt:
            self.ledger.interrupted()
            raise
        return Progress(self.start_step, done, self.examples_seen, time.perf_counter() - started)

    def mark_interrupted(self) -> list[dict[str, Any]]:
        """The entry of a run stopped before its last step (resumable); the ledger as written."""
        return self.ledger.interrupted()

    def finish(self, steps: int) -> list[dict[str, Any]]:
        """Save the trained model and tokenizer, then complete the ledger entry with the exact
        epsilon of ``steps`` steps; the ledger as written."""
        self.model_dir.save_model(self.built.model, self.built.tokenizer)
        return self.ledger.completed(steps, self.plan.epsilon_after(steps))
