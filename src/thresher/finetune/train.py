"""DP-SGD over privacy units with Opacus, a non-private baseline, and evaluation.

The privacy unit is a record (record-level DP) or all records of one person (user-level DP).
One step of ``DPTrainer``:

1. ``UnitSampler`` draws units by Poisson sampling: each training unit joins the step
   independently with probability ``q = batch_size / units``. A unit brings at most
   ``max_examples_per_unit`` of its examples (a long document is several windows; a person has
   many records), chosen uniformly with the same seeded generator.
2. Opacus's ``GradSampleModule`` computes one gradient per example; the loss handed to
   backward is the mean of per-example losses (``loss_reduction="mean"``, so Opacus rescales
   and ``grad_sample[i]`` is example i's gradient).
3. ``unit_gradients`` replaces each parameter's ``grad_sample`` by one row per unit: the mean of
   that unit's example gradients. Whatever one unit contributes is now a single row.
4. Opacus's ``DPOptimizer`` clips every row to L2 norm ``max_grad_norm`` jointly over all
   parameters, sums, adds Gaussian noise of std ``noise_multiplier * max_grad_norm`` and
   divides by the expected number of units per step.

Adding or removing one unit (with all its records) changes the clipped sum by at most
``max_grad_norm`` and changes which units are drawn only through its own coin flip, so the
Poisson-subsampled Gaussian mechanism analysed by Opacus's accountants (PRV or RDP, add/remove
adjacency) applies with sampling rate ``q`` at the unit level: the epsilon reported is for units.
An empty draw still takes a step with a zero gradient row, so noise is added at every step the
accountant counts.

Determinism: with ``secure_mode`` off, sampling and noise come from generators seeded from
``seed`` and their states are checkpointed, so an interrupted and resumed run gives the same
weights as one that was never interrupted.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from thresher.finetune._deps import require

# The label of a token that is not a training target (Hugging Face's convention).
IGNORE_INDEX = -100


@dataclass(frozen=True)
class Example:
    """One training window: its privacy unit (an index), token ids and optional label.

    ``targets`` (causal-lm conversations, ``thresher.finetune.chat``): one label per token,
    the token id where the model learns to predict it, ``IGNORE_INDEX`` elsewhere (the loss
    then counts only those tokens); None: every token is a target (documents)."""

    unit: int
    ids: tuple[int, ...]
    label: int | None = None
    targets: tuple[int, ...] | None = None


def encode(
    texts: Sequence[tuple[int, str, int | None]],
    tokenizer: Any,
    task: str,
    max_length: int,
) -> list[Example]:
    """``(unit, text, label)`` to examples. causal-lm: text + EOS cut into windows of
    ``max_length`` tokens (windows of one token carry no prediction and are skipped);
    classification: the first ``max_length`` tokens with the tokenizer's special tokens."""
    out: list[Example] = []
    for unit, text, label in texts:
        if task == "causal-lm":
            ids = [*tokenizer(text, add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
            for start in range(0, len(ids), max_length):
                window = ids[start : start + max_length]
                if len(window) >= 2:
                    out.append(Example(unit, tuple(window)))
        else:
            ids = tokenizer(text, truncation=True, max_length=max_length)["input_ids"]
            out.append(Example(unit, tuple(ids), label))
    return out


def by_unit(examples: Sequence[Example], n_units: int) -> list[list[int]]:
    groups: list[list[int]] = [[] for _ in range(n_units)]
    for i, ex in enumerate(examples):
        groups[ex.unit].append(i)
    return groups


class UnitSampler:
    """Poisson sampling of units, then at most ``cap`` examples of each drawn unit."""

    def __init__(self, groups: list[list[int]], rate: float, cap: int, generator: Any) -> None:
        self.groups = groups
        self.rate = rate
        self.cap = cap
        self.generator = generator

    def sample(self) -> tuple[list[int], list[int]]:
        """(example indices, position of each example's unit among the drawn units)."""
        torch = require("torch")
        drawn = torch.nonzero(
            torch.rand(len(self.groups), generator=self.generator) < self.rate
        ).flatten()
        examples: list[int] = []
        owner: list[int] = []
        rows = 0
        for unit in drawn.tolist():
            members = self.groups[unit]
            if not members:
                continue  # a unit whose texts gave no example contributes a zero gradient
            if len(members) > self.cap:
                pick = torch.randperm(len(members), generator=self.generator)[: self.cap]
                members = [members[i] for i in sorted(pick.tolist())]
            examples.extend(members)
            owner.extend([rows] * len(members))
            rows += 1
        return examples, owner


def collate(batch: Sequence[Example], pad_id: int, device: Any) -> dict[str, Any]:
    torch = require("torch")
    width = max(len(ex.ids) for ex in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, ex in enumerate(batch):
        ids[i, : len(ex.ids)] = torch.tensor(ex.ids, dtype=torch.long)
        mask[i, : len(ex.ids)] = 1
    out = {"input_ids": ids.to(device), "attention_mask": mask.to(device)}
    if any(ex.targets is not None for ex in batch):
        # a document among conversations trains on all its tokens; padding on none
        targets = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
        for i, ex in enumerate(batch):
            row = ex.ids if ex.targets is None else ex.targets
            targets[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        out["targets"] = targets.to(device)
    if batch[0].label is not None:
        out["labels"] = torch.tensor([ex.label for ex in batch], dtype=torch.long, device=device)
    return out


def forward_logits(model: Any, task: str, batch: dict[str, Any]) -> Any:
    """Logits, with ``position_ids`` (and BERT ``token_type_ids``) passed explicitly: Hugging
    Face models otherwise build them as one shared ``[1, T]`` buffer, and Opacus's per-sample
    hooks need them batch-shaped and contiguous."""
    torch = require("torch")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    n, width = ids.shape
    positions = torch.arange(width, device=ids.device).unsqueeze(0).repeat(n, 1).contiguous()
    if task == "causal-lm":
        return model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
    token_types = torch.zeros_like(ids).contiguous()
    return model(
        input_ids=ids, attention_mask=mask, position_ids=positions, token_type_ids=token_types
    ).logits


def per_example_loss(model: Any, task: str, batch: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(loss per example, tokens or 1 per example, logits). causal-lm: the mean next-token
    NLL over the example's real tokens (with ``targets``: over the tokens whose target is not
    ``IGNORE_INDEX``, e.g. a conversation's assistant tokens); classification: cross-entropy."""
    torch = require("torch")
    functional = require("torch.nn.functional")
    logits = forward_logits(model, task, batch)
    if task == "causal-lm":
        ids, mask = batch["input_ids"], batch["attention_mask"]
        if "targets" in batch:
            ids = batch["targets"]
            mask = mask * (ids != IGNORE_INDEX)
        nll = functional.cross_entropy(
            logits[:, :-1].transpose(1, 2), ids[:, 1:].clamp(min=0), reduction="none"
        )
        weight = mask[:, 1:].to(nll.dtype)
        tokens = weight.sum(1)
        return (nll * weight).sum(1) / tokens.clamp(min=1), tokens, logits
    loss = functional.cross_entropy(logits, batch["labels"], reduction="none")
    return loss, torch.ones_like(loss), logits


def unit_gradients(params: Sequence[Any], owner: Sequence[int], n_units: int) -> None:
    """Turn Opacus's per-example ``p.grad_sample`` (a tensor or a list from several physical
    batches) into one row per unit: the mean of that unit's example gradients.

    The mean is a matrix product with a ``[units, examples]`` averaging matrix (much faster
    than ``index_add_`` on CPU); when every unit brought one example, in order, the rows are
    already per unit and stay as they are."""
    torch = require("torch")
    identity = len(owner) == n_units and all(u == i for i, u in enumerate(owner))
    weights: dict[tuple[Any, Any], Any] = {}
    for p in params:
        gs = p.grad_sample
        if isinstance(gs, list):
            gs = torch.cat(gs, dim=0)
        if identity:
            p.grad_sample = gs
            continue
        key = (gs.device, gs.dtype)
        if key not in weights:
            index = torch.tensor(owner, device=gs.device)
            counts = torch.bincount(index, minlength=n_units).to(gs.dtype)
            avg = torch.zeros((n_units, len(owner)), device=gs.device, dtype=gs.dtype)
            avg[index, torch.arange(len(owner), device=gs.device)] = 1.0 / counts[index]
            weights[key] = avg
        p.grad_sample = (weights[key] @ gs.reshape(len(owner), -1)).view(n_units, *gs.shape[1:])


def register_conv1d_sampler() -> None:
    """Per-sample gradients for Hugging Face's ``Conv1D`` (GPT-2's attention and MLP layers):
    a Linear whose weight is stored ``(in, out)``. Opacus has no sampler for it and falls back
    to functorch (vmap over the batch); the einsum below is the exact same gradient, several
    times faster. ``test_user_rows_are_the_mean_of_that_users_example_gradients`` checks it
    against plain autograd."""
    torch = require("torch")
    grad_sample = require("opacus.grad_sample")
    conv1d = require("transformers.pytorch_utils").Conv1D
    if conv1d in grad_sample.GradSampleModule.GRAD_SAMPLERS:
        return

    @grad_sample.register_grad_sampler(conv1d)
    def _conv1d_grad_sample(layer: Any, activations: list[Any], backprops: Any) -> dict[Any, Any]:
        acts = activations[0].to(backprops.dtype)
        out = {}
        if layer.weight.requires_grad:
            out[layer.weight] = torch.einsum("n...i,n...j->nij", acts, backprops)
        if layer.bias is not None and layer.bias.requires_grad:
            out[layer.bias] = torch.einsum("n...k->nk", backprops)
        return out


class DPTrainer:
    """Opacus ``GradSampleModule`` + ``DPOptimizer`` (AdamW inside) with unit-level rows."""

    def __init__(
        self,
        model: Any,
        task: str,
        examples: Sequence[Example],
        *,
        learning_rate: float,
        noise_multiplier: float,
        max_grad_norm: float,
        expected_batch_size: float,
        physical_batch_size: int,
        pad_id: int,
        device: Any,
        noise_generator: Any,
        secure_mode: bool,
    ) -> None:
        torch = require("torch")
        opacus = require("opacus")
        self.model = model
        self.task = task
        self.examples = examples
        self.physical = physical_batch_size
        self.pad_id = pad_id
        self.device = device
        register_conv1d_sampler()
        self.module = opacus.GradSampleModule(model, batch_first=True, loss_reduction="mean")
        self.params = [p for p in model.parameters() if p.requires_grad]
        inner = torch.optim.AdamW(self.params, lr=learning_rate, weight_decay=0.0)
        self.optimizer = opacus.optimizers.DPOptimizer(
            inner,
            noise_multiplier=noise_multiplier,
            max_grad_norm=max_grad_norm,
            # Opacus divides the noisy sum by this: the *expected* units per step under
            # Poisson sampling, never the drawn count (which would depend on the data).
            expected_batch_size=expected_batch_size,
            loss_reduction="mean",
            generator=noise_generator,
            secure_mode=secure_mode,
        )

    def accumulate(self, indices: Sequence[int], owner: Sequence[int]) -> float:
        """Forward/backward the drawn examples in physical batches and leave one
        ``grad_sample`` row per drawn unit (a zero row when nothing was drawn). Returns the
        mean example loss (a training statistic, not released)."""
        torch = require("torch")
        self.module.train()
        self.optimizer.zero_grad(set_to_none=True)
        if not indices:
            for p in self.params:
                p.grad_sample = torch.zeros((1, *p.shape), device=p.device, dtype=p.dtype)
            return float("nan")
        total = 0.0
        for start in range(0, len(indices), self.physical):
            chunk = [self.examples[i] for i in indices[start : start + self.physical]]
            loss, _, _ = per_example_loss(
                self.module, self.task, collate(chunk, self.pad_id, self.device)
            )
            with warnings.catch_warnings():
                # Frozen embeddings: the first hooked module has no input needing a grad.
                warnings.filterwarnings("ignore", message="Full backward hook is firing")
                loss.mean().backward()
            total += float(loss.detach().sum())
        unit_gradients(self.params, owner, max(owner) + 1)
        return total / len(indices)

    def step(self, indices: Sequence[int], owner: Sequence[int]) -> float:
        loss = self.accumulate(indices, owner)
        self.optimizer.step()
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])


def train_nonprivate(
    model: Any,
    task: str,
    examples: Sequence[Example],
    n_units: int,
    *,
    steps: int,
    batch_size: int,
    cap: int,
    learning_rate: float,
    physical_batch_size: int,
    pad_id: int,
    device: Any,
    generator: Any,
) -> dict[str, float]:
    """The baseline: the same units, caps, steps, optimizer and learning rate, shuffled
    batches of ``batch_size`` units, no clipping, no noise. Returns its throughput."""
    torch = require("torch")
    groups = by_unit(examples, n_units)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=0.0)
    model.train()
    order: list[int] = []
    seen = 0
    started = time.perf_counter()
    for _ in range(steps):
        if len(order) < batch_size:
            order += torch.randperm(n_units, generator=generator).tolist()
        units, order = order[:batch_size], order[batch_size:]
        indices: list[int] = []
        weights: list[float] = []
        for u in units:
            members = groups[u]
            if len(members) > cap:
                pick = torch.randperm(len(members), generator=generator)[:cap]
                members = [members[i] for i in sorted(pick.tolist())]
            indices += members
            weights += [1.0 / (len(members) * len(units))] * len(members)
        optimizer.zero_grad(set_to_none=True)
        for start in range(0, len(indices), physical_batch_size):
            chunk = [examples[i] for i in indices[start : start + physical_batch_size]]
            loss, _, _ = per_example_loss(model, task, collate(chunk, pad_id, device))
            w = torch.tensor(weights[start : start + physical_batch_size], device=loss.device)
            (loss * w).sum().backward()
        optimizer.step()
        seen += len(indices)
    seconds = time.perf_counter() - started
    return {"examples": seen, "seconds": seconds, "samples_per_second": seen / seconds}


def evaluate(
    model: Any,
    task: str,
    examples: Sequence[Example],
    physical_batch_size: int,
    pad_id: int,
    device: Any,
) -> dict[str, Any]:
    """causal-lm: perplexity = exp(mean next-token NLL over held-out tokens);
    classification: accuracy over held-out records."""
    torch = require("torch")
    model.eval()
    total = count = 0.0
    correct = 0
    with torch.no_grad():
        for start in range(0, len(examples), physical_batch_size):
            batch = collate(examples[start : start + physical_batch_size], pad_id, device)
            loss, weight, logits = per_example_loss(model, task, batch)
            total += float((loss * weight).sum())
            count += float(weight.sum())
            if task == "classification":
                correct += int((logits.argmax(-1) == batch["labels"]).sum())
    mean = total / max(count, 1.0)
    if task == "causal-lm":
        return {
            "metric": "perplexity",
            "value": math.exp(min(mean, 50.0)),
            "loss": mean,
            "examples": len(examples),
        }
    return {
        "metric": "accuracy",
        "value": correct / max(len(examples), 1),
        "loss": mean,
        "examples": len(examples),
    }


@functools.lru_cache(maxsize=256)
def epsilon_for(
    noise_multiplier: float, sampling_rate: float, steps: int, delta: float, accountant: str
) -> float:
    """Epsilon after ``steps`` Poisson-subsampled Gaussian steps (PRV: Opacus's upper bound)."""
    if steps <= 0:
        return 0.0
    accountants = require("opacus.accountants")
    acc = accountants.create_accountant(mechanism=accountant)
    acc.history = [(noise_multiplier, sampling_rate, steps)]
    with warnings.catch_warnings():
        # "optimal order is the largest alpha": the bound is valid, only not the tightest;
        # log(1 - q) at q = 1 (every unit in every step): PRV handles the infinity.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(acc.get_epsilon(delta=delta))


@functools.lru_cache(maxsize=32)
def noise_for(
    target_epsilon: float, delta: float, sampling_rate: float, steps: int, accountant: str
) -> float:
    utils = require("opacus.accountants.utils")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return float(
            utils.get_noise_multiplier(
                target_epsilon=target_epsilon,
                target_delta=delta,
                sample_rate=sampling_rate,
                steps=steps,
                accountant=accountant,
                epsilon_tolerance=0.01,
            )
        )


def run_steps(
    step: Callable[[], None],
    start: int,
    total: int,
    every: int,
    stop_after: int | None,
    charge: Callable[[int], None],
    checkpoint: Callable[[int], None],
) -> int:
    """The crash-safe loop: before each window of ``every`` steps, ``charge`` the ledger up to
    the window's end; after it, ``checkpoint``. A run killed inside a window has already paid
    for the whole window; resuming from the last checkpoint re-runs steps that were charged
    (charges are absolute step counts per run, so nothing is counted twice). Returns the
    number of steps done."""
    done = start
    stop = total if stop_after is None else min(total, start + stop_after)
    while done < stop:
        window_end = min(total, (done // every + 1) * every)
        charge(window_end)
        while done < min(window_end, stop):
            step()
            done += 1
        checkpoint(done)
    return done
