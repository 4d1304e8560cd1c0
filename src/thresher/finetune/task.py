"""What a run trains on and with: the dataset split by unit, the model, the encoded examples.

``load_task`` reads and splits the dataset and resolves ``--model`` (no torch yet);
``build`` makes the model and tokenizer (seeded from ``finetune.seed``, checked by Opacus's
``ModuleValidator``, frozen as asked, on the device) and encodes both splits (conversations
through a chat template with their loss mask: ``thresher.finetune.chat``);
``train_baseline`` trains and evaluates the non-private baseline on the same examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thresher.config import FinetuneConfig
from thresher.errors import ConfigError
from thresher.finetune import chat as chat_mod
from thresher.finetune import data as data_mod
from thresher.finetune import models as models_mod
from thresher.finetune import train as train_mod
from thresher.finetune._deps import require

# AdamW's learning rate when finetune.learning_rate is null: a model trained from scratch
# (tiny) takes larger steps than a pretrained one.
TINY_LEARNING_RATE = 2e-3
PRETRAINED_LEARNING_RATE = 5e-4


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

    def chat_rows(self, units: list[str]) -> list[tuple[int, str, tuple[Any, ...]]]:
        """``(unit index, text, turns)`` of the records of ``units``, in dataset order; turns
        empty for a document."""
        index = {u: i for i, u in enumerate(units)}
        return [(index[r.unit], r.text, r.messages) for r in self.corpus.rows if r.unit in index]

    def renders_chat(self, config: FinetuneConfig) -> bool:
        """Whether conversations go through a chat template: causal-lm on a dataset holding
        any (a classifier reads a conversation's ``text`` view, like a document)."""
        return config.task == "causal-lm" and self.corpus.conversations > 0


@dataclass
class Built:
    """The model and tokenizer of a run and both splits encoded."""

    model: Any
    tokenizer: Any
    validator_fixes: int
    train_examples: list[train_mod.Example]
    eval_examples: list[train_mod.Example]
    # the chat template conversations were rendered with (chat.use_template); None: none were
    chat_template: str | None = None


def resolve_device(name: str) -> Any:
    """``--device``: ``cpu``, ``cuda[:N]`` or ``auto`` (CUDA when available)."""
    torch = require("torch")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {name!r}: no CUDA device is available; use --device cpu")
    return torch.device(name)


def learning_rate(config: FinetuneConfig, spec: models_mod.ModelSpec) -> float:
    if config.learning_rate is not None:
        return config.learning_rate
    return TINY_LEARNING_RATE if spec.kind == "tiny" else PRETRAINED_LEARNING_RATE


def _labels(corpus: data_mod.Corpus) -> list[str]:
    return sorted({r.label for r in corpus.rows if r.label is not None})


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


def _model_and_tokenizer(
    task: Task, config: FinetuneConfig, tokenizer_dir: Path | None
) -> tuple[Any, Any]:
    """Fresh weights: ``tiny`` from the seed (with the tokenizer of ``tokenizer_dir`` when a
    resumed run saved one, else one trained on the training split), or a local model."""
    torch = require("torch")
    torch.manual_seed(config.seed)  # head / tiny initialisation
    if task.spec.kind != "tiny":
        return models_mod.load_pretrained(task.spec, task.labels, config.max_length)
    if tokenizer_dir is not None and (tokenizer_dir / "tokenizer.json").is_file():
        transformers = require("transformers")
        tokenizer = transformers.PreTrainedTokenizerFast.from_pretrained(str(tokenizer_dir))
    else:
        tokenizer = models_mod.train_tokenizer(
            task.train_texts, config.tokenizer_vocab_size, config.tokenizer_min_units
        )
    if task.renders_chat(config):
        chat_mod.use_template(tokenizer, tiny=True)  # before the embeddings are sized
    torch.manual_seed(config.seed)
    return models_mod.build_tiny(tokenizer, config.max_length), tokenizer


def _trainable(net: Any, config: FinetuneConfig, device: Any) -> tuple[Any, int]:
    """``net`` made Opacus-compatible, frozen as asked, on ``device``; and the fixes made."""
    net, fixed = models_mod.make_private_compatible(net)
    models_mod.freeze_all_but_last(net, config.train_last_layers)
    net.to(device)
    return net, fixed


def build(
    task: Task, config: FinetuneConfig, device: Any, tokenizer_dir: Path | None = None
) -> Built:
    """Model and tokenizer (validated, frozen as asked, on ``device``) and encoded examples."""
    net, tokenizer = _model_and_tokenizer(task, config, tokenizer_dir)
    net, fixed = _trainable(net, config, device)
    template = None
    if task.renders_chat(config):
        # tiny: idempotent, its role tokens were added before the model was sized
        template = chat_mod.use_template(tokenizer, tiny=task.spec.kind == "tiny")

        def enc(units: list[str]) -> list[train_mod.Example]:
            rows = task.chat_rows(units)
            return chat_mod.encode(rows, tokenizer, config.max_length, config.train_on)
    else:

        def enc(units: list[str]) -> list[train_mod.Example]:
            rows = task.rows(units)
            return train_mod.encode(rows, tokenizer, config.task, config.max_length)

    return Built(
        model=net,
        tokenizer=tokenizer,
        validator_fixes=fixed,
        train_examples=enc(task.train_units),
        eval_examples=enc(task.eval_units),
        chat_template=template,
    )


def evaluate(model: Any, built: Built, config: FinetuneConfig, device: Any) -> dict[str, Any]:
    """``model`` on the held-out examples (``train.evaluate``)."""
    return train_mod.evaluate(
        model,
        config.task,
        built.eval_examples,
        config.physical_batch_size,
        built.tokenizer.pad_token_id,
        device,
    )


def train_baseline(
    task: Task, built: Built, config: FinetuneConfig, device: Any, *, steps: int
) -> tuple[dict[str, float], dict[str, Any]]:
    """(throughput, held-out metrics) of the non-private baseline: a fresh model from the same
    seed (``tiny``: with the run's tokenizer) trained on the same examples for ``steps`` steps
    without clipping or noise (``train.train_nonprivate``)."""
    torch = require("torch")
    if task.spec.kind == "tiny":
        torch.manual_seed(config.seed)
        plain = models_mod.build_tiny(built.tokenizer, config.max_length)
    else:
        plain, _ = _model_and_tokenizer(task, config, None)
    plain, _ = _trainable(plain, config, device)
    throughput = train_mod.train_nonprivate(
        plain,
        config.task,
        built.train_examples,
        len(task.train_units),
        steps=steps,
        batch_size=config.batch_size,
        cap=config.max_examples_per_unit,
        learning_rate=learning_rate(config, task.spec),
        physical_batch_size=config.physical_batch_size,
        pad_id=built.tokenizer.pad_token_id,
        device=device,
        generator=torch.Generator().manual_seed(config.seed + 2),
    )
    return throughput, evaluate(plain, built, config, device)
