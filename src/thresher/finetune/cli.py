"""``thresher finetune``: the subcommand's arguments and its printed summary.

Settings come from, in rising precedence: the defaults of ``FinetuneConfig``, the ``finetune``
section of the recipe that produced DIR (kept in ``DIR/manifest.json``) or of ``--recipe``,
then the flags. This module imports no heavy package.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from thresher.errors import ConfigError

# flag name -> recipe key (finetune.<key>); all optional, None means "not given".
_FLAGS: dict[str, tuple[str, Any, str]] = {
    "--epsilon": ("epsilon", float, "target epsilon (default 8)"),
    "--delta": ("delta", float, "delta (default min(1/(2N), 1e-5), N = training units)"),
    "--noise-multiplier": ("noise_multiplier", float, "fixed sigma instead of a target epsilon"),
    "--max-grad-norm": ("max_grad_norm", float, "per-unit clipping norm C (default 1.0)"),
    "--epochs": ("epochs", int, "passes over the training units (default 3)"),
    "--batch-size": ("batch_size", int, "expected privacy units per step (default 32)"),
    "--unit-field": ("unit_field", str, "meta field naming the person: user-level DP"),
    "--task": ("task", str, "causal-lm (default) or classification"),
    "--label-field": ("label_field", str, "meta field holding the label (classification)"),
    "--accountant": ("accountant", str, "prv (default) or rdp"),
    "--seed": ("seed", int, "seed for init, sampling and noise (default 0)"),
    "--learning-rate": ("learning_rate", float, "AdamW learning rate"),
    "--max-length": ("max_length", int, "tokens per example (default 128)"),
    "--physical-batch-size": ("physical_batch_size", int, "examples per forward pass"),
    "--max-examples-per-unit": ("max_examples_per_unit", int, "examples of a unit per step"),
    "--eval-fraction": ("eval_fraction", float, "held-out share of units (default 0.1)"),
    "--train-last-layers": ("train_last_layers", int, "train only the last N blocks + head"),
    "--checkpoint-every": ("checkpoint_every", int, "steps between checkpoints (default 50)"),
    "--epsilon-budget": ("epsilon_budget", float, "warn past this cumulative epsilon (10)"),
}


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "finetune",
        help="differentially private fine-tuning on an output dataset (extra dp)",
        description="Train a model on DIR/data with DP-SGD (Opacus) and record the privacy "
        "spent in DIR/privacy_ledger.json. Running the same command again resumes an "
        "interrupted run without charging its privacy twice.",
        allow_abbrev=False,
    )
    p.add_argument("dir", help="a thresher output directory")
    p.add_argument("--model", required=True, help="tiny | minilm | a local model directory")
    p.add_argument("--output", required=True, metavar="MODEL_DIR")
    for flag, (key, kind, text) in _FLAGS.items():
        p.add_argument(flag, dest=key, type=kind, default=None, help=text)
    p.add_argument(
        "--train-on",
        dest="train_on",
        choices=("assistant", "all"),
        default=None,
        help="conversations: loss on assistant tokens only (default) or on all tokens",
    )
    p.add_argument(
        "--secure-mode",
        dest="secure_mode",
        action="store_const",
        const=True,
        default=None,
        help="noise and sampling from OS entropy",
    )
    p.add_argument(
        "--baseline",
        action="store_true",
        help="also train a non-private baseline and report both evaluations",
    )
    p.add_argument("--recipe", help="take the finetune section from this recipe instead")
    p.add_argument(
        "--stop-after",
        type=int,
        metavar="STEPS",
        help="take at most STEPS steps now, checkpoint and stop (resume later)",
    )
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument("--overwrite", action="store_true", help="replace a finished MODEL_DIR")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def _base_section(args: argparse.Namespace) -> dict[str, Any]:
    if args.recipe:
        path = Path(args.recipe)
        if not path.is_file():
            raise ConfigError(f"--recipe {args.recipe!r} does not exist; pass a YAML recipe")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"--recipe {args.recipe!r} is not valid YAML") from exc
        section = loaded.get("finetune", {}) if isinstance(loaded, dict) else {}
    else:
        from thresher.finetune.dataset_io import read_manifest

        recipe = read_manifest(args.dir).get("recipe") or {}
        section = recipe.get("finetune", {}) if isinstance(recipe, dict) else {}
    return dict(section) if isinstance(section, dict) else {}


def settings(args: argparse.Namespace) -> Any:
    """The validated ``FinetuneConfig`` for these arguments."""
    from thresher.config import FinetuneConfig

    data = _base_section(args)
    given = {key: getattr(args, key) for key, _, _ in _FLAGS.values()}
    given["secure_mode"] = args.secure_mode
    given["train_on"] = args.train_on
    given = {k: v for k, v in given.items() if v is not None}
    # A flag for one noise source replaces the other one coming from the recipe.
    if "noise_multiplier" in given and "epsilon" not in given:
        data["epsilon"] = None
    if "epsilon" in given and "noise_multiplier" not in given:
        data["noise_multiplier"] = None
    data.update(given)
    try:
        return FinetuneConfig.model_validate(data)
    except ValidationError as exc:
        lines = []
        for e in exc.errors():
            key = ".".join(str(p) for p in e["loc"])
            where = f"finetune.{key}" if key else "finetune"
            lines.append(f"{where}: {e['msg']}")
        raise ConfigError("invalid finetune settings:\n  " + "\n  ".join(lines)) from exc


def _fmt(metrics: dict[str, Any] | None) -> str:
    return "-" if metrics is None else f"{metrics['value']:.4g}"


def run(args: argparse.Namespace) -> int:
    from thresher.card import refresh_card
    from thresher.finetune import finetune

    config = settings(args)
    try:
        result = finetune(
            data_dir=args.dir,
            model=args.model,
            output=args.output,
            config=config,
            baseline=args.baseline,
            stop_after=args.stop_after,
            overwrite=args.overwrite,
            device=args.device,
            warn=lambda line: print(f"thresher: warning: {line}", file=sys.stderr),
        )
    except KeyboardInterrupt:
        print(
            "thresher: finetune interrupted; run the same command again to resume "
            "(the privacy ledger already holds what was spent)",
            file=sys.stderr,
        )
        return 130
    refresh_card(args.dir)  # the dataset card shows the ledger's totals
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, sort_keys=True, default=str))
        return 0
    unit = f"user-level DP by {result.unit_field!r}" if result.unit_field else "record-level DP"
    print(f"finetune {result.status}: run {result.run_id} ({unit}, {result.units} units)")
    print(
        f"  privacy: epsilon {result.epsilon:.3f}, delta {result.delta:.3g} "
        f"({result.delta_rule}), unit {result.unit}, noise multiplier "
        f"{result.noise_multiplier:.4g}, clipping norm {config.max_grad_norm}, sampling rate "
        f"{result.sampling_rate:.4g}, steps {result.steps}/{result.steps_planned}, "
        f"accountant {result.accountant}"
    )
    if result.resumed_from is not None:
        print(
            f"  resumed at step {result.resumed_from}: the ledger entry of this run was "
            "updated, not duplicated"
        )
    if result.dp_metrics is not None:
        print(
            f"  held-out {result.dp_metrics['metric']} "
            f"({result.dp_metrics['examples']} examples): DP {_fmt(result.dp_metrics)}, "
            f"non-private baseline {_fmt(result.baseline_metrics)}"
        )
    from thresher.finetune.dataset_io import ledger_path

    cum = result.cumulative
    print(
        f"  ledger: {ledger_path(args.dir)} (cumulative epsilon "
        f"{cum.get('epsilon', 0.0):.3f} over {cum.get('runs', 0)} run(s))"
    )
    if result.status == "interrupted":
        print("  stopped before the last step; run the same command again to resume")
    else:
        print(f"wrote {result.model_dir}", file=sys.stderr)
    return 0
