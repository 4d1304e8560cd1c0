"""``MODEL_DIR``, what one ``thresher finetune`` run writes: checkpoint, model, report.

Layout::

    MODEL_DIR/checkpoint/state.pt     while the run is unfinished: the run's identity, its step,
                                      sigma, model + optimizer state and the RNG states
    MODEL_DIR/checkpoint/tokenizer*   the ``tiny`` run's tokenizer, reused when it resumes
    MODEL_DIR/config.json, model.safetensors, tokenizer files   the trained model
    MODEL_DIR/finetune_report.json    written last: its presence marks a finished output

``state.pt`` is replaced atomically (write ``state.tmp.pt``, rename). In ``secure_mode`` it holds
no RNG state: a saved noise state would let anyone replay the noise. A checkpoint is resumed
only by the same run: same data (manifest hash), model and settings (``run_fingerprint``; the
epsilon budget may change, it only warns).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from thresher.config import FinetuneConfig
from thresher.errors import OutputError
from thresher.finetune._deps import require
from thresher.finetune.models import ModelSpec

REPORT = "finetune_report.json"
CHECKPOINT = "checkpoint"
_STATE = "state.pt"
_STATE_TMP = "state.tmp.pt"
# The generators' states in a checkpoint, in the order they are written; cuda_rng only on a GPU.
RNG_KEYS = ("sample_gen", "noise_gen", "torch_rng", "cuda_rng")


def utc_now() -> str:
    """The timestamps of the ledger and the checkpoint: UTC, ISO 8601, whole seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_fingerprint(config: FinetuneConfig, spec: ModelSpec, manifest_sha256: str) -> str:
    """sha256 of what must be identical for a checkpoint to be resumed; the budget only warns."""
    settings = config.model_dump(mode="json", exclude={"epsilon_budget"})
    blob = json.dumps(
        {"settings": settings, "model": spec.describe(), "data": manifest_sha256}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class RunIdentity:
    """What names one run across its resumes: its ledger ``run_id``, the fingerprint of its
    data, model and settings, and when it started (the ledger entry's ``time``)."""

    run_id: str
    fingerprint: str
    started: str

    @classmethod
    def new(cls, fingerprint: str) -> RunIdentity:
        return cls(run_id=uuid.uuid4().hex, fingerprint=fingerprint, started=utc_now())


@dataclass(frozen=True)
class Checkpoint:
    """The contents of ``state.pt``: ``trainer`` is the model's and the DP optimizer's
    ``state_dict``; ``rng`` the generator states by ``RNG_KEYS`` name (empty in secure mode)."""

    identity: RunIdentity
    step: int
    noise_multiplier: float
    trainer: dict[str, Any]
    rng: dict[str, Any]

    def to_state(self) -> dict[str, Any]:
        """The dict ``torch.save`` writes (the file format: flat keys)."""
        return {
            "run_id": self.identity.run_id,
            "fingerprint": self.identity.fingerprint,
            "started": self.identity.started,
            "step": self.step,
            "noise_multiplier": self.noise_multiplier,
            "trainer": self.trainer,
            **{key: self.rng[key] for key in RNG_KEYS if key in self.rng},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Checkpoint:
        return cls(
            identity=RunIdentity(
                run_id=state["run_id"], fingerprint=state["fingerprint"], started=state["started"]
            ),
            step=int(state["step"]),
            noise_multiplier=float(state["noise_multiplier"]),
            trainer=state["trainer"],
            rng={key: state[key] for key in RNG_KEYS if key in state},
        )


@dataclass(frozen=True)
class ModelDir:
    """One ``--output`` directory. Deletes nothing but a half-written first checkpoint and,
    with ``overwrite``, a finished finetune output."""

    path: Path

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def report_path(self) -> Path:
        return self.path / REPORT

    def resume_point(self, *, overwrite: bool, fingerprint: str) -> Checkpoint | None:
        """The checkpoint to resume (``None``: a fresh run), after making the directory.
        Raises ``OutputError`` for a checkpoint of another run, or a non-empty directory that
        is not to be (or cannot be) replaced."""
        resume = self._prepare(overwrite)
        if resume is not None and resume.identity.fingerprint != fingerprint:
            raise OutputError(
                f"--output {str(self.path)!r} holds a checkpoint of a different run (other "
                "data, model or settings); rerun with the same arguments to resume it, or "
                "choose another --output"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        return resume

    def _prepare(self, overwrite: bool) -> Checkpoint | None:
        out, state_file = self.path, self.checkpoint_dir / _STATE
        if state_file.is_file():
            torch = require("torch")
            return Checkpoint.from_state(
                dict(torch.load(state_file, map_location="cpu", weights_only=False))
            )
        if self.checkpoint_dir.is_dir() and not self.report_path.exists():
            # killed while writing its first checkpoint: nothing in it can be resumed
            shutil.rmtree(self.checkpoint_dir)
        if out.exists() and any(out.iterdir()):
            if not overwrite:
                raise OutputError(
                    f"--output {str(out)!r} exists and is not empty; choose another directory "
                    "or pass --overwrite to replace a previous finetune output"
                )
            if not self.report_path.is_file():
                raise OutputError(
                    f"--output {str(out)!r} is not a finetune output (no {REPORT}); refusing "
                    "to delete it even with --overwrite"
                )
            shutil.rmtree(out)
        return None

    def save_checkpoint(self, checkpoint: Checkpoint, tokenizer: Any | None = None) -> None:
        """Replace ``checkpoint/state.pt`` atomically; save ``tokenizer`` (the ``tiny``
        model's, trained on this run's data) beside it first."""
        torch = require("torch")
        self.checkpoint_dir.mkdir(exist_ok=True)
        if tokenizer is not None:
            tokenizer.save_pretrained(str(self.checkpoint_dir))
        tmp = self.checkpoint_dir / _STATE_TMP
        torch.save(checkpoint.to_state(), tmp)
        os.replace(tmp, self.checkpoint_dir / _STATE)

    def save_model(self, model: Any, tokenizer: Any) -> None:
        """The trained model and its tokenizer, loadable with ``from_pretrained(MODEL_DIR)``."""
        transformers = require("transformers")
        transformers.utils.logging.disable_progress_bar()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.save_pretrained(str(self.path))
        tokenizer.save_pretrained(str(self.path))

    def write_report(self, report: dict[str, Any]) -> None:
        """``finetune_report.json``, replaced atomically (sorted keys, indent 2)."""
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.path)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2, sort_keys=True, default=str)
            fh.write("\n")
        os.replace(tmp, self.report_path)

    def drop_checkpoint(self) -> None:
        shutil.rmtree(self.checkpoint_dir, ignore_errors=True)
