"""``manifest.json``: the typed record of one run, written by ``thresher run`` and read by
every command that looks at an output (report, card, explain, audit, forget, finetune).

The model is the contract: ``schemas/manifest.schema.json`` is exported from it, and a test
fails when the two drift. It holds counts, ids, reasons, hashes and timings; never document
text or PII values. Sections that only some runs have (``bias``, ``pii``, ``audit``,
``erasures``, ...) are absent from the file when the run has none, not ``null``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from thresher.output import fs, layout

Number = int | float


class _Part(BaseModel):
    """Strict parts: an unknown key in a manifest is an error, not a silently kept extra."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    _omit_if_none: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _drop_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in self._omit_if_none:
            if data.get(name) is None:
                data.pop(name, None)
        return data


class InputEntry(_Part):
    path: str
    size_bytes: int
    records: int
    source: str = Field(
        "", description="The name data/ and the card publish for this file (empty: path)."
    )


class Counts(_Part):
    """``input == kept + dropped + duplicate + dead_letter``, with the reasons of each fate."""

    input: int
    kept: int
    dropped: int
    duplicate: int
    dead_letter: int
    dropped_by_reason: dict[str, int] = Field(default_factory=dict)
    duplicate_by_reason: dict[str, int] = Field(default_factory=dict)
    dead_letter_by_reason: dict[str, int] = Field(default_factory=dict)


class Accounting(_Part):
    """The balance check; ``error`` only when it could not be checked."""

    _omit_if_none = frozenset(
        {"equation", "input", "sum_of_fates", "lineage_rows", "distinct_lineage_ids", "error"}
    )
    balanced: bool
    equation: str | None = None
    input: int | None = None
    sum_of_fates: int | None = None
    lineage_rows: int | None = None
    distinct_lineage_ids: int | None = None
    error: str | None = None


class StageRow(_Part):
    """Records entering a stage and where they went (``in`` is a keyword in Python)."""

    stage: str
    in_: int = Field(alias="in")
    dropped: int
    duplicate: int
    dead_letter: int
    out: int


class Shard(_Part):
    file: str
    rows: int
    bytes: int


class Timings(_Part):
    started_at: str
    finished_at: str
    pipeline_seconds: float
    total_seconds: float
    docs_per_second: float | None
    stage_msecs: dict[str, int] = Field(default_factory=dict)


class Batching(_Part):
    """A batched local run (docs/scaling.md#batched-local-runs): how the input was cut."""

    batch_records: int
    batches: int
    positions: int


class Manifest(_Part):
    """One run's books. ``stats`` are the stages' summed statistics (keys built and parsed by
    :mod:`thresher.core.statkeys` and the stage modules that own them)."""

    _omit_if_none = frozenset(
        {
            "bias",
            "pii",
            "decontamination",
            "audit",
            "erasures",
            "previous_manifest_hashes",
            "batching",
            "conversations",
        }
    )
    thresher_version: str
    status: Literal["succeeded", "failed"]
    failure: str | None
    recipe: dict[str, Any]
    recipe_hash: str
    recipe_path: str | None
    runner: str
    inputs: list[InputEntry]
    counts: Counts
    accounting: Accounting
    dead_letter_fraction: float
    stats: dict[str, Number] = Field(default_factory=dict)
    examples: dict[str, list[str]] = Field(default_factory=dict)
    stages: list[StageRow]
    outputs: dict[str, list[Shard]]
    timings: Timings
    cost: dict[str, Any] = Field(default_factory=dict)
    bias: dict[str, Any] | None = None
    pii: dict[str, Any] | None = None
    decontamination: dict[str, Any] | None = None
    audit: dict[str, Any] | None = None
    erasures: list[dict[str, Any]] | None = None
    previous_manifest_hashes: list[str] | None = None
    batching: Batching | None = None
    # records read and kept, histograms and drops by rule per role of the run's conversations
    # (thresher.stages.chat_profile.section); absent when the run read none
    conversations: dict[str, Any] | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    def as_json(self) -> dict[str, Any]:
        """The manifest exactly as saved and as every reader sees it: aliases, absent optional
        sections left out, keys sorted at every level (renderers iterate in this order)."""
        data: dict[str, Any] = json.loads(
            json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        )
        return data

    def to_bytes(self) -> bytes:
        return fs.json_bytes(self.as_json())


def manifest_json_schema() -> dict[str, Any]:
    schema: dict[str, Any] = Manifest.model_json_schema(by_alias=True, mode="serialization")
    return schema


def read_manifest(out: str) -> Manifest:
    """The manifest of the output ``out`` (any Beam path); ``InputError`` if there is none."""
    layout.require_output(out)
    return Manifest.model_validate(fs.read_json(layout.path(out, layout.MANIFEST)))


def write_manifest(out: str, manifest: Manifest) -> str:
    """Replace ``out``'s manifest atomically; returns its path."""
    return fs.write_atomic(layout.path(out, layout.MANIFEST), manifest.to_bytes())


def rewrite_manifest(out: str, **changes: Any) -> Manifest:
    """Replace fields of ``out``'s manifest (``audit`` adds its results): the manifest it
    replaces is named in ``previous_manifest_hashes``, so whatever cites the old one (the
    privacy ledger) still finds this dataset. Returns the new manifest."""
    old = read_manifest(out)
    before = manifest_sha256(out)
    previous = [*(old.previous_manifest_hashes or []), before]
    new = Manifest.model_validate(
        {**old.as_json(), **changes, "previous_manifest_hashes": previous}
    )
    write_manifest(out, new)
    return new


def manifest_sha256(out: str) -> str:
    """The hash of the manifest file as saved: what the privacy ledger and erasures cite."""
    return hashlib.sha256(fs.read_bytes(layout.path(out, layout.MANIFEST))).hexdigest()
