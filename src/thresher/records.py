"""The record types that flow between stages.

One frozen ``Document`` flows through the pipeline; stages return new records with
``dataclasses.replace`` and never mutate their input. Every input record also produces exactly
one ``Fate`` (its lineage row), and records that cannot be processed produce a ``DeadLetter``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal

FateKind = Literal["kept", "dropped", "duplicate", "dead_letter"]
FATES: tuple[FateKind, ...] = ("kept", "dropped", "duplicate", "dead_letter")


def derived_id(source: str, position: int) -> str:
    """Stable id for a record without a source id: a hash of its source path and position.

    Deterministic across runs, runners and workers; 16 bytes of BLAKE2b is far past any
    collision risk at corpus scale.
    """
    digest = hashlib.blake2b(f"{source}\x00{position}".encode(), digest_size=16)
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class PiiFinding:
    """One PII replacement in a kept record: never the value itself.

    ``field`` is ``None`` for the text, else the meta path (``meta.author_email``,
    ``meta.tags.0``); ``start``/``end`` index the *output* string; ``value_hmac`` is the keyed
    HMAC-SHA256 of the normalized original value (for erasure requests).
    """

    field: str | None
    entity_type: str
    start: int
    end: int
    operator: str
    score: float
    value_hmac: str | None


@dataclasses.dataclass(frozen=True)
class Document:
    """A document on its way through the pipeline.

    ``meta`` holds the input's other fields (JSON-compatible values); ``signals`` holds
    numeric annotations that stages add; ``modifications`` names the rewrites applied to
    ``text`` (e.g. ``"normalize"``). Output Parquet is built from these fields by
    ``thresher.schema``.
    """

    id: str
    text: str
    source: str
    position: int
    meta: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    signals: Mapping[str, float] = dataclasses.field(default_factory=dict)
    modifications: tuple[str, ...] = ()
    language: str | None = None
    language_score: float | None = None
    pii: tuple[PiiFinding, ...] = ()
    # Ids and numbers behind an annotate-mode decision that kept the record (e.g. the benchmark
    # items decontamination found), copied into its lineage row when it is kept; never text.
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Fate:
    """Where one input record ended: one lineage row.

    ``details`` holds the numbers behind a decision (signal values, cluster size), never text.
    """

    id: str
    source: str
    position: int
    fate: FateKind
    stage: str
    reason: str | None = None
    duplicate_of: str | None = None
    cluster_id: str | None = None
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def details_json(self) -> str | None:
        return json.dumps(self.details, sort_keys=True) if self.details else None


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    """A record that could not be processed.

    ``message`` says what was wrong and where (field names, byte offsets, sizes) and never
    quotes the record's content.
    """

    id: str
    source: str
    position: int
    stage: str
    error_type: str
    message: str

    def to_fate(self) -> Fate:
        return Fate(
            id=self.id,
            source=self.source,
            position=self.position,
            fate="dead_letter",
            stage=self.stage,
            reason=self.error_type,
        )


@dataclasses.dataclass(frozen=True)
class IndexEntry:
    """One kept document in a run's near-dedup index (``DIR/index/``): no text, only what a
    later run needs to find and name it: its MinHash signature (``num_perm`` little-endian
    uint32) and LSH band keys, and its length for the keep policy."""

    id: str
    source: str
    position: int
    length: int
    signature: bytes
    band_keys: tuple[bytes, ...]


def _fate_of(doc: Document, fate: FateKind, stage: str, **fields: Any) -> Fate:
    """The lineage row of ``doc``: its id, source and position, with ``fate`` at ``stage``."""
    return Fate(
        id=doc.id, source=doc.source, position=doc.position, fate=fate, stage=stage, **fields
    )


def duplicate_fate(
    doc: Document,
    stage: str,
    reason: str,
    duplicate_of: str,
    cluster_id: str,
    details: Mapping[str, Any] | None = None,
) -> Fate:
    """The lineage row of ``doc`` removed as a duplicate of the kept record ``duplicate_of``."""
    return _fate_of(
        doc,
        "duplicate",
        stage,
        reason=reason,
        duplicate_of=duplicate_of,
        cluster_id=cluster_id,
        details=details or {},
    )


def dropped_fate(
    doc: Document, stage: str, reason: str, details: Mapping[str, Any] | None = None
) -> Fate:
    """The lineage row of ``doc`` dropped by ``stage`` for ``reason`` (numbers, never text)."""
    return _fate_of(doc, "dropped", stage, reason=reason, details=details or {})


def kept_fate(doc: Document, stage: str = "write") -> Fate:
    return _fate_of(doc, "kept", stage, details=doc.details)
