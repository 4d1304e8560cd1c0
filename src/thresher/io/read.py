"""``ReadCorpus``: raw files to ``Document`` records, with every bad record dead-lettered."""

from __future__ import annotations

import dataclasses
import fnmatch
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection, TaggedOutput

from thresher import progress
from thresher.config import FileRecordConfig, InputConfig
from thresher.errors import InputError
from thresher.io.chat import ChatMapping, InstructionMapping
from thresher.io.earlier import ReadEarlierRowsFn
from thresher.io.formats import STAGE, WHOLE, ReadOptions, Window, read_file
from thresher.records import DeadLetter, Document, derived_id
from thresher.tags import DEAD, MAIN

_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class InputFile:
    """One input file: ``path`` as the runner reads it (absolute for a local file; lineage and
    ``explain`` use it), and ``source``, the name published in ``data/`` and the dataset card:
    the path relative to the input root it was found under (``input.paths`` entry up to its
    first wildcard), so nothing about the curator's machine is published. Empty: ``path``."""

    path: str
    size_bytes: int
    source: str = ""

    @property
    def published(self) -> str:
        return self.source or self.path


def _is_local(path: str) -> bool:
    return "://" not in path


def _expand_pattern(pattern: str) -> str:
    """A directory means every file under it, recursively."""
    if any(c in _GLOB_CHARS for c in pattern):
        return pattern
    if pattern.endswith("/") or (_is_local(pattern) and os.path.isdir(pattern)):
        return pattern.rstrip("/") + "/**"
    return pattern


def resolve_inputs(patterns: Sequence[str], exclude: Sequence[str] = ()) -> list[InputFile]:
    """Match every pattern at launch time; sorted, de-duplicated files with their sizes.

    Raises ``InputError`` naming a pattern that matches no file: an empty match is almost always
    a typo, and silently reading nothing would look like success.
    """
    found: dict[str, int] = {}
    roots: dict[str, str] = {}
    for pattern in patterns:
        expanded = _expand_pattern(pattern)
        if _is_local(expanded) and not os.path.isabs(expanded):
            expanded = os.path.abspath(expanded)
        try:
            matches = FileSystems.match([expanded])[0].metadata_list
        except Exception as exc:
            raise InputError(
                f"input.paths: cannot list {pattern!r} ({type(exc).__name__}); check the path "
                "and that the filesystem's Beam extra is installed (e.g. apache-beam[gcp])"
            ) from exc
        kept = [
            m
            for m in matches
            if not any(fnmatch.fnmatch(m.path.rsplit("/", 1)[-1], pat) for pat in exclude)
            and not (_is_local(m.path) and os.path.isdir(m.path))
        ]
        if not kept:
            raise InputError(f"input.paths: {pattern!r} matches no file; fix the path or remove it")
        for m in kept:
            found[m.path] = m.size_in_bytes
            roots.setdefault(m.path, _root(expanded))
    names = source_names({path: roots[path] for path in found})
    return [InputFile(path, size, names[path]) for path, size in sorted(found.items())]


def _root(pattern: str) -> str:
    """The directory a pattern searches under: up to its first wildcard, cut back to a ``/``
    (``/data/corpus/**`` -> ``/data/corpus``; ``/data/a.jsonl`` -> ``/data``)."""
    cut = min((pattern.index(c) for c in _GLOB_CHARS if c in pattern), default=len(pattern))
    return pattern[:cut].rsplit("/", 1)[0] if "/" in pattern[:cut] else ""


def source_names(roots: dict[str, str]) -> dict[str, str]:
    """Published name of each local file (``path -> root``): its path relative to its root.
    Where two files would get the same name (two roots holding ``part-0.jsonl``), every file
    is named relative to the common parent of the roots instead. Remote paths
    (``gs://bucket/...``) name no local machine and stay as they are."""

    def relative(base: dict[str, str]) -> dict[str, str]:
        return {p: os.path.relpath(p, base[p]) if _is_local(p) else p for p in roots}

    names = relative(roots)
    if len(set(names.values())) < len(names):
        local = [r for p, r in roots.items() if _is_local(p)]
        parent = os.path.commonpath(local) if local else ""
        names = relative({p: parent for p in roots})
    return names


class _ReadFileFn(beam.DoFn):
    """Path -> its records (main) and dead letters (``DEAD``), in file order. ``opts``: the
    input's options; ``per_path``: a file's own where ``input.per_file`` gives it others."""

    def __init__(self, opts: ReadOptions, per_path: dict[str, ReadOptions] | None = None) -> None:
        self._opts = opts
        self._per_path = per_path or {}
        self._docs = Metrics.counter(STAGE, "total")
        self._dead = Metrics.counter(STAGE, "dead_letter")
        self._files = Metrics.counter(STAGE, "files")

    def process(self, element: str | tuple[str, int, int | None, int]) -> Iterator[Any]:
        """``element``: a path (the whole file) or a span ``(path, start, stop, offset)`` of a
        batched run (``thresher.io.split.Span``)."""
        path, window, offset = _what_to_read(element)
        self._files.inc()
        last = window.start - 1
        try:
            raw = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
        except Exception as exc:
            self._dead.inc()
            if window.start == 0:
                yield TaggedOutput(DEAD, _file_dead(path, -1, "unreadable_file", exc))
            return
        try:
            with raw:
                if offset:
                    raw.seek(offset)
                opts = self._per_path.get(path, self._opts)
                for item in read_file(raw, path, opts, window):
                    last = max(last, item.position)
                    progress.tick("read")
                    if isinstance(item, DeadLetter):
                        self._dead.inc()
                        yield TaggedOutput(DEAD, item)
                    else:
                        self._docs.inc()
                        yield item
        except Exception as exc:  # an I/O error part-way: the rest of the file is one dead letter
            self._dead.inc()
            yield TaggedOutput(DEAD, _file_dead(path, last + 1, "read_error", exc))


def _what_to_read(element: str | tuple[str, int, int | None, int]) -> tuple[str, Window, int]:
    if isinstance(element, str):
        return element, WHOLE, 0
    path, start, stop, offset = element
    return path, Window(start, stop, start if offset else 0), offset


def _file_dead(path: str, position: int, kind: str, exc: BaseException) -> DeadLetter:
    errno = getattr(exc, "errno", None)
    detail = type(exc).__name__ + (f", errno {errno}" if errno else "")
    where = "the file" if position < 0 else f"the file from position {position}"
    return DeadLetter(
        id=derived_id(path, position),
        source=path,
        position=position,
        stage=STAGE,
        error_type=kind,
        message=f"cannot read {where} ({detail})",
    )


IDS = "ids"  # extra output of batched runs: (id, source, position) of ids claimed here
IDS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("position", pa.int64(), nullable=False),
    ]
)


@dataclass(frozen=True)
class _Earlier:
    """A source id claimed by a record of an earlier batch (batched runs)."""

    source: str
    position: int


def _earlier(row: dict) -> _Earlier:
    return _Earlier(row["source"], row["position"])


def _duplicate_id(doc: Document, holder: Document | DeadLetter | _Earlier) -> DeadLetter:
    Metrics.counter(STAGE, "dead_letter.duplicate_id").inc()
    return DeadLetter(
        id=derived_id(doc.source, doc.position),
        source=doc.source,
        position=doc.position,
        stage=STAGE,
        error_type="duplicate_id",
        message=(
            f"source id already used by {holder.source} position {holder.position}; "
            "ids must be unique (input.id_field)"
        ),
    )


class _ResolveIdCollisionsFn(beam.DoFn):
    """(id, records) -> the first document by (source, position), else the first dead letter,
    keeps the id; a later document is dead-lettered (``duplicate_id``), a later dead letter
    keeps its error under its derived id. Dead letters take part because they keep the
    source's id where it was readable. Batched runs: an id an earlier batch claimed
    (``_Earlier``) is taken, so every record of this batch gives it up the same way (an
    earlier batch holds smaller (source, position), so the outcome is an unbatched run's);
    with ``emit_ids``, the id kept here goes to ``IDS`` for the batches after."""

    def __init__(self, emit_ids: bool = False) -> None:
        self._emit_ids = emit_ids

    def process(self, element: tuple[str, Any]) -> Iterator[Any]:
        rid, members = element
        earlier = next((m for m in members if isinstance(m, _Earlier)), None)
        # A readable record keeps its id over a broken one that claims the same id.
        ordered = sorted(
            (m for m in members if not isinstance(m, _Earlier)),
            key=lambda d: (isinstance(d, DeadLetter), d.source, d.position),
        )
        if not ordered:
            return
        holder: Document | DeadLetter | _Earlier = earlier or ordered[0]
        if earlier is None:
            first = ordered[0]
            yield first if isinstance(first, Document) else TaggedOutput(DEAD, first)
            if self._emit_ids and rid != derived_id(first.source, first.position):
                yield TaggedOutput(IDS, (rid, first.source, first.position))
            ordered = ordered[1:]
        for doc in ordered:
            if isinstance(doc, DeadLetter):
                yield TaggedOutput(
                    DEAD, dataclasses.replace(doc, id=derived_id(doc.source, doc.position))
                )
            else:
                yield TaggedOutput(DEAD, _duplicate_id(doc, holder))


def _record_config(cfg: InputConfig, file: InputFile | None) -> InputConfig | FileRecordConfig:
    """The ``input.per_file`` entry for ``file`` (the first whose ``match`` glob matches its
    published name), else ``cfg`` itself: both carry ``record``, ``chat`` and ``instruction``."""
    if file is not None:
        for entry in cfg.per_file:
            if fnmatch.fnmatchcase(file.published, entry.match):
                return entry
    return cfg


def read_options(cfg: InputConfig, file: InputFile | None = None) -> ReadOptions:
    """The reader's options for ``file`` (None: the input's own, without ``per_file``):
    ``input.*`` with the record kind and mapping of the first ``input.per_file`` entry whose
    glob (``fnmatch``, case-sensitive; ``*`` also matches ``/``) matches the file's published
    name, relative to its input root."""
    kind = _record_config(cfg, file)
    return ReadOptions(
        format=cfg.format,
        compression=cfg.compression,
        text_field=cfg.text_field,
        id_field=cfg.id_field,
        require_id=cfg.require_id,
        meta_fields=tuple(cfg.meta_fields) if cfg.meta_fields is not None else None,
        text_mode=cfg.text_mode,
        max_document_bytes=cfg.max_document_bytes,
        record=kind.record,
        chat=ChatMapping(
            messages_field=kind.chat.messages_field,
            role_key=kind.chat.role_key,
            content_key=kind.chat.content_key,
            roles=tuple(sorted(kind.chat.roles.items())),
        ),
        instruction=InstructionMapping(
            prompt_fields=tuple(kind.instruction.prompt_fields),
            response_field=kind.instruction.response_field,
            system_field=kind.instruction.system_field,
        ),
    )


class ReadCorpus(beam.PTransform):
    """Read files into ``Document`` records.

    Input: the pipeline root. Output: ``{"main": PCollection[Document],
    "dead_letter": PCollection[DeadLetter]}``. Every record of every file becomes exactly one of
    the two (blank lines of line formats are not records). Files are distributed over workers
    (one file is read by one worker: compressed streams cannot be split). With ``id_field`` set,
    a repeated source id keeps the first record by (source, position) and dead-letters the rest
    (``duplicate_id``). Output can hold raw PII. Metrics (namespace ``read``): ``files``,
    ``total``, ``dead_letter``. Deterministic: ids and positions depend only on file contents and
    paths. ``spans`` (batched runs, ``thresher.io.split``): read only those position ranges
    instead of whole ``files``; positions and ids stay those of whole-file reads;
    ``earlier_ids`` (batched runs with ``id_field``): the ids files of earlier batches, whose
    ids this batch's records cannot keep, and the output ``ids`` holds the ids kept here. Each
    file is
    read with its record kind (``input.record``, or the first matching ``input.per_file``
    entry): ``chat`` and ``instruction`` records become conversations
    (``thresher.io.chat``; see docs/reading-conversations.md).

    Example::

        outs = p | "ReadCorpus" >> ReadCorpus([InputFile("a.jsonl", 10)], cfg.input)
    """

    def __init__(
        self,
        files: Sequence[InputFile],
        cfg: InputConfig,
        spans: Sequence[tuple[str, int, int | None, int]] | None = None,
        earlier_ids: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self._paths: list[Any] = [f.path for f in files] if spans is None else list(spans)
        self._cfg = cfg
        self._earlier_ids = None if earlier_ids is None else list(earlier_ids)
        # Options per file, resolved here (``input.per_file`` matches published names, which
        # only the launcher knows); only those that differ travel with the DoFn.
        self._opts = read_options(cfg)
        self._per_path = {
            f.path: opts for f in files if (opts := read_options(cfg, f)) != self._opts
        }

    def expand(self, pbegin: Any) -> dict[str, PCollection]:
        read = (
            pbegin
            | "ListFiles" >> beam.Create(self._paths)
            | "SpreadFiles" >> beam.Reshuffle()
            | "ParseFiles"
            >> beam.ParDo(_ReadFileFn(self._opts, self._per_path)).with_outputs(DEAD, main=MAIN)
        )
        docs, dead = read[MAIN], read[DEAD]
        if self._cfg.id_field is None:
            return {MAIN: docs, DEAD: dead}
        keyed = (
            (docs, dead)
            | "DocumentsAndDeadLetters" >> beam.Flatten()
            | "KeyById" >> beam.Map(lambda d: (d.id, d))
        )
        if self._earlier_ids:
            current = keyed | "CurrentIds" >> beam.Map(lambda kv: kv[0])
            earlier = (
                pbegin
                | "EarlierIdFiles" >> beam.Create(self._earlier_ids)
                | "ReadEarlierIds"
                >> beam.ParDo(
                    ReadEarlierRowsFn("id", ["id", "source", "position"], _earlier),
                    beam.pvalue.AsList(current),
                )
            )
            keyed = (keyed, earlier) | "WithEarlierIds" >> beam.Flatten()
        emit = self._earlier_ids is not None
        resolved = (
            keyed
            | "GroupById" >> beam.GroupByKey()
            | "ResolveIdCollisions"
            >> beam.ParDo(_ResolveIdCollisionsFn(emit)).with_outputs(DEAD, IDS, main=MAIN)
        )
        out = {MAIN: resolved[MAIN], DEAD: resolved[DEAD]}
        if emit:
            out[IDS] = resolved[IDS]
        return out
