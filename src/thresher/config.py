"""The recipe: one YAML file loaded into one typed, frozen ``PipelineConfig``.

Unknown or misspelled keys are errors that name the key (``extra="forbid"``). Beam runner
options never live here: they pass through on the command line untouched. Secrets never live
here either: sections that need keys name an environment variable or a key file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from thresher.errors import ConfigError

MiB = 1024 * 1024


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputConfig(_Section):
    """Where the raw corpus is and how to read it."""

    paths: list[str] = Field(
        default_factory=lambda: ["sample_data/"],
        min_length=1,
        description="Files, globs or directories; any scheme Beam's FileSystems supports.",
    )
    exclude: list[str] = Field(
        default_factory=lambda: [".*", "_*"],
        description="File-name patterns to skip (hidden and Hadoop-style `_` files by default).",
    )
    format: Literal["auto", "jsonl", "parquet", "csv", "tsv", "text"] = Field(
        "auto", description="`auto` picks by extension after stripping .gz/.bz2/.zst."
    )
    compression: Literal["auto", "none", "gzip", "bzip2", "zstd"] = "auto"
    text_field: str = Field("text", min_length=1)
    id_field: str | None = Field(
        None, description="Source id field; records without it get a hash of path+position."
    )
    require_id: bool = Field(False, description="Dead-letter records that lack `id_field`.")
    meta_fields: list[str] | None = Field(None, description="Fields kept as meta; null keeps all.")
    text_mode: Literal["file", "line"] = Field(
        "file", description="Plain text: one document per file or one per line."
    )
    max_document_bytes: int = Field(
        10 * MiB, gt=0, description="Larger records are dead-lettered (`document_too_large`)."
    )


class NormalizeConfig(_Section):
    enabled: bool = True
    unicode_form: Literal["NFC", "NFKC"] = "NFC"
    fix_mojibake: bool = True
    remove_control_chars: bool = True
    normalize_whitespace: bool = True


class ExactDedupConfig(_Section):
    enabled: bool = True
    casefold: bool = Field(False, description="Fold case before hashing.")
    strip_punctuation: bool = Field(False, description="Ignore punctuation before hashing.")
    keep: Literal["first", "smallest_id"] = Field(
        "first", description="`first`: smallest (source, position); `smallest_id`: smallest id."
    )


class DedupConfig(_Section):
    exact: ExactDedupConfig = Field(default_factory=ExactDedupConfig)


class OutputConfig(_Section):
    path: str = "out"
    max_rows_per_shard: int = Field(100_000, gt=0)
    max_bytes_per_shard: int = Field(256 * MiB, gt=0, description="Uncompressed bytes.")
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"


class LimitsConfig(_Section):
    max_dead_letter_fraction: float = Field(
        0.05, ge=0.0, le=1.0, description="Fail the run when more input is dead-lettered."
    )


class FinetuneConfig(_Section):
    """``thresher finetune``: DP-SGD on an output dataset (extra ``dp``). See docs/finetune.md."""

    task: Literal["causal-lm", "classification"] = "causal-lm"
    unit_field: str | None = Field(
        None, description="meta field naming the person (user-level DP); null: record-level."
    )
    label_field: str | None = Field(None, description="meta field holding the class label.")
    epsilon: float | None = Field(8.0, gt=0, description="Target epsilon; null with a fixed sigma.")
    delta: float | None = Field(None, gt=0, lt=1, description="null: min(1/(2N), 1e-5).")
    noise_multiplier: float | None = Field(None, gt=0, description="Fixed sigma, no target.")
    max_grad_norm: float = Field(1.0, gt=0, description="Per-unit clipping norm C.")
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(32, ge=1, description="Expected privacy units per step.")
    physical_batch_size: int = Field(32, ge=1, description="Examples per forward pass.")
    max_examples_per_unit: int = Field(8, ge=1, description="Examples of one unit per step.")
    learning_rate: float | None = Field(None, gt=0, description="null: 2e-3 tiny, 5e-4 else.")
    max_length: int = Field(128, ge=8, description="Tokens per example.")
    accountant: Literal["prv", "rdp"] = "prv"
    secure_mode: bool = False
    seed: int = 0
    eval_fraction: float = Field(0.1, gt=0, lt=1, description="Held-out units.")
    train_last_layers: int | None = Field(None, ge=0, description="null: train every layer.")
    checkpoint_every: int = Field(50, ge=1, description="Steps between checkpoints.")
    epsilon_budget: float = Field(10.0, gt=0, description="Warn past this cumulative epsilon.")
    tokenizer_vocab_size: int = Field(2000, ge=300, description="`tiny` model only.")
    tokenizer_min_units: int = Field(5, ge=1, description="`tiny`: words seen in fewer skipped.")

    @model_validator(mode="after")
    def _one_noise_source(self) -> FinetuneConfig:
        if self.epsilon is not None and self.noise_multiplier is not None:
            raise ValueError(
                "finetune.epsilon and finetune.noise_multiplier are mutually exclusive: "
                "set finetune.epsilon=null to train with a fixed noise multiplier"
            )
        if self.epsilon is None and self.noise_multiplier is None:
            raise ValueError("set one of finetune.epsilon (a target) or finetune.noise_multiplier")
        if self.task == "classification" and not self.label_field:
            raise ValueError("finetune.task=classification needs finetune.label_field")
        return self


class PipelineConfig(_Section):
    """A whole recipe. Sections as in DESIGN.md; each stage's section has `enabled`."""

    input: InputConfig = Field(default_factory=InputConfig)
    normalize: NormalizeConfig = Field(default_factory=NormalizeConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    finetune: FinetuneConfig = Field(default_factory=FinetuneConfig)

    @field_validator("input")
    @classmethod
    def _paths_not_blank(cls, value: InputConfig) -> InputConfig:
        if any(not p.strip() for p in value.paths):
            raise ValueError("input.paths holds an empty path; remove it")
        return value

    def recipe_hash(self) -> str:
        """sha256 of the canonical JSON of the validated recipe (defaults included)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _format_errors(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(recipe)"
        if e["type"] == "extra_forbidden":
            parent = _field_names_at(e["loc"][:-1])
            hint = f"valid keys here: {', '.join(parent)}" if parent else "remove it"
            lines.append(f"unknown recipe key '{key}': {hint}")
        else:
            value = e.get("input")
            shown = repr(value) if isinstance(value, int | float | bool | str) else type(value)
            if isinstance(value, str) and len(value) > 60:
                shown = repr(value[:57] + "...")
            lines.append(f"recipe key '{key}' = {shown}: {e['msg']}")
    return "invalid recipe:\n  " + "\n  ".join(lines)


def _field_names_at(loc: Iterable[Any]) -> list[str]:
    model: Any = PipelineConfig
    for part in loc:
        field = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
        if field is None or not isinstance(field.annotation, type):
            return []
        model = field.annotation
    return sorted(model.model_fields) if hasattr(model, "model_fields") else []


def parse_override(item: str) -> tuple[list[str], Any]:
    """Parse one ``--set dotted.key=value``; the value is read as a YAML scalar or list."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected dotted.key=value, e.g. output.path=out2")
    key, raw = item.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set {item!r}: the key is empty; use e.g. dedup.exact.enabled=false")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: value is not valid YAML; quote it") from exc
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    out = json.loads(json.dumps(data))  # deep copy of plain data
    for item in overrides:
        parts, value = parse_override(item)
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"--set {'.'.join(parts)}: '{part}' is not a section")
            node = child
        node[parts[-1]] = value
    return out


def load_config(
    path: str | Path | None = None,
    overrides: Iterable[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> PipelineConfig:
    """Load a recipe file (or the defaults), apply ``--set`` overrides, validate.

    Raises ``ConfigError`` naming every bad key and value.
    """
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"recipe {str(p)!r} does not exist; pass a YAML recipe file")
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"recipe {str(p)!r} is not valid YAML{where}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"recipe {str(p)!r} must be a mapping of sections at top level")
        data = loaded
    data = apply_overrides(data, overrides)
    for key, value in (extra or {}).items():
        data = apply_overrides(data, [f"{key}={json.dumps(value)}"])
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc)) from exc


def recipe_json_schema() -> dict[str, Any]:
    return PipelineConfig.model_json_schema()
