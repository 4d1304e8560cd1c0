"""Differentially private fine-tuning on a thresher output dataset (extra ``dp``).

``thresher finetune DIR --model tiny|minilm|PATH --output MODEL_DIR`` trains with DP-SGD
(Opacus) at the record or user level, records the privacy spent in ``DIR/privacy_ledger.json``
and evaluates on a held-out split. torch, opacus, transformers and tokenizers are imported only
when a run starts; without them the command fails with ``pip install 'thresher[dp]'``.

Modules: ``data`` (read and split by privacy unit), ``ledger`` (the privacy ledger), ``models``
(local models, tokenizer, Opacus validation), ``train`` (DP-SGD over units, baseline,
evaluation, accounting), ``runner`` (one run, checkpoints, resume), ``cli``.
"""

from typing import Any

from thresher.finetune._deps import INSTALL_HINT, MissingExtraError

__all__ = ["INSTALL_HINT", "MissingExtraError", "finetune"]


def finetune(*args: Any, **kwargs: Any) -> Any:
    """See ``thresher.finetune.runner.finetune`` (imported lazily: it needs the extra)."""
    from thresher.finetune.runner import finetune as _finetune

    return _finetune(*args, **kwargs)
