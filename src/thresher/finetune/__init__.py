"""Differentially private fine-tuning on a thresher output dataset (extra ``dp``).

``thresher finetune DIR --model tiny|minilm|PATH --output MODEL_DIR`` trains with DP-SGD
(Opacus) at the record or user level, records the privacy spent in ``DIR/privacy_ledger.json``
and evaluates on a held-out split. torch, opacus, transformers and tokenizers are imported only
when a run starts; without them the command fails with ``pip install 'thresher[dp]'``.

Modules: ``dataset_io`` (every read of DIR), ``data`` (rows and the split by privacy unit),
``ledger`` (the privacy ledger), ``models`` (local models, tokenizer, Opacus validation),
``train`` (DP-SGD over units, baseline, evaluation, accounting), ``task`` (dataset, model and
examples of a run), ``privacy`` (the run's privacy plan), ``model_dir`` (MODEL_DIR: checkpoint,
model, report), ``session`` (DP-SGD state, checkpoints, RNG, ledger writes), ``runner`` (one
run: ``finetune``), ``cli``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from thresher.finetune._deps import INSTALL_HINT, MissingExtraError

if TYPE_CHECKING:
    from thresher.finetune.runner import finetune

__all__ = ["INSTALL_HINT", "MissingExtraError", "finetune"]


def __getattr__(name: str) -> Any:
    # ``finetune`` is the real function of ``runner`` (its own signature), imported on first
    # use: ``thresher --help`` need not import pyarrow and the recipe models.
    if name == "finetune":
        from thresher.finetune.runner import finetune

        return finetune
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
