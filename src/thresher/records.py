"""The record types that flow between stages.

One frozen ``Document`` flows through the pipeline; stages return new records with
``dataclasses.replace`` and never mutate their input. Every input record also produces exactly
one ``Fate`` (its lineage row), and records that cannot be processed produce a ``DeadLetter``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

FateKind = Literal["kept", "dropped", "duplicate", "dead_letter"]
Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant", "tool")
# Between the turns of a conversation in its ``text`` view: a blank line, as trainers render
# plain concatenations, so line- and paragraph-based signals see turn boundaries.
TURN_SEPARATOR = "\n\n"
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
class Turn:
    """One turn of a conversation: a canonical role (``ROLES``) and its string content."""

    role: str
    content: str


@dataclasses.dataclass(frozen=True)
class Segment:
    """A piece of a record's text that stages look at: the whole ``text`` of a document
    (``turn`` and ``role`` None) or one turn of a conversation (its index and role)."""

    turn: int | None
    role: str | None
    text: str


def render_turns(turns: tuple[Turn, ...]) -> str:
    """The ``text`` view of a conversation: the turns' contents, blank-line separated."""
    return TURN_SEPARATOR.join(t.content for t in turns)


@dataclasses.dataclass(frozen=True)
class Document:
    """A record on its way through the pipeline: a document or a conversation.

    A conversation (``input.record: chat | instruction``) has its turns in ``messages`` and
    ``text`` is their derived view (``render_turns``): whole-text stages (near dedup, language
    id, bias) read ``text``; stages that rewrite text rewrite the turns through ``with_turns``,
    which keeps the two consistent. A document has ``messages == ()``. ``meta`` holds the
    input's other fields (JSON-compatible values); ``signals`` holds numeric annotations that
    stages add; ``modifications`` names the rewrites applied (e.g. ``"normalize"``). Output
    Parquet is built from these fields by ``thresher.schema``.
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
    messages: tuple[Turn, ...] = ()

    @property
    def is_chat(self) -> bool:
        return bool(self.messages)

    def segments(self, roles: Iterable[str] | None = None) -> list[Segment]:
        """What text-reading stages look at: the document's text as one segment, or each turn
        of a conversation whose role is in ``roles`` (None: every turn), in turn order."""
        if not self.messages:
            return [Segment(None, None, self.text)]
        wanted = None if roles is None else frozenset(roles)
        return [
            Segment(i, t.role, t.content)
            for i, t in enumerate(self.messages)
            if wanted is None or t.role in wanted
        ]


def chat_document(
    id: str,
    source: str,
    position: int,
    turns: tuple[Turn, ...],
    meta: Mapping[str, Any] | None = None,
) -> Document:
    """A conversation record, its ``text`` view derived from ``turns``."""
    return Document(
        id=id,
        text=render_turns(turns),
        source=source,
        position=position,
        meta=meta or {},
        messages=turns,
    )


def with_turns(doc: Document, turns: tuple[Turn, ...], **changes: Any) -> Document:
    """``doc`` with new turn contents (same roles, same order) and its ``text`` view rebuilt;
    ``changes`` are other fields to replace (``modifications``, ``pii``)."""
    return dataclasses.replace(doc, messages=turns, text=render_turns(turns), **changes)


def with_segment_texts(doc: Document, texts: Sequence[str], **changes: Any) -> Document:
    """``doc`` with every segment of ``doc.segments()`` (all turns) replaced by ``texts``, in
    order: the one rewrite path for stages that work segment by segment (normalize, PII)."""
    if not doc.messages:
        (text,) = texts
        return dataclasses.replace(doc, text=text, **changes)
    turns = tuple(Turn(t.role, c) for t, c in zip(doc.messages, texts, strict=True))
    return with_turns(doc, turns, **changes)


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
