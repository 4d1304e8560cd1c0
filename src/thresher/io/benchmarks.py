"""Benchmark files for decontamination: find them, read their items, check them at launch.

Any file thresher reads as a corpus is a benchmark file (JSON Lines, Parquet, CSV/TSV, plain
text with one item per line; any compression; any Beam path), read with the same parsers
(``thresher.io.formats.read_rows``). Bad benchmark input is an ``InputError``
before the pipeline starts, naming the benchmark and the key: a path that matches nothing, a
record the parser rejects, a missing or non-text field, a repeated item id, a benchmark without
items. Messages never quote item text.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
from collections.abc import Iterator, Sequence

import numpy as np
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from thresher.config import BenchmarkConfig
from thresher.core.decontam import BenchmarkIndex, BenchmarkItem, match_tokens
from thresher.errors import InputError
from thresher.io.formats import ReadOptions, Row, read_rows
from thresher.io.read import resolve_inputs


@dataclasses.dataclass(frozen=True)
class BenchmarkSource:
    """One benchmark: its name, fields, id field and the files its paths matched (sorted)."""

    name: str
    fields: tuple[str, ...]
    id_field: str | None
    files: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"decontamination.benchmarks[{self.name}]"


@dataclasses.dataclass(frozen=True)
class BenchmarkSummary:
    """What the launch-time scan learned about one benchmark (numbers only)."""

    name: str
    items: int
    ngrams: int  # n-grams summed over item fields (an upper bound on distinct keys)
    short: int  # items without any n-gram (every field under n words): matched whole


def resolve_benchmarks(benchmarks: Sequence[BenchmarkConfig]) -> list[BenchmarkSource]:
    """Match each benchmark's paths: a directory means every file under it (hidden and ``_``
    files skipped, as for the corpus), a file named outright is always read. ``InputError``
    names the benchmark when a path matches no file."""
    out = []
    for b in benchmarks:
        files: set[str] = set()
        for pattern in b.paths:
            # a file named outright is read whatever its name; folders and globs skip hidden
            # and `_` files as the corpus does (so a benchmark can live beside the corpus)
            named = not (set(pattern) & set("*?[")) and not _is_folder(pattern)
            skip = () if named else (".*", "_*")
            try:
                files.update(f.path for f in resolve_inputs([pattern], skip))
            except InputError as exc:
                raise InputError(
                    f"decontamination.benchmarks[{b.name}].paths: {pattern!r} matches no "
                    "readable file; fix the path or remove it"
                ) from exc
        out.append(BenchmarkSource(b.name, tuple(b.fields), b.id_field, tuple(sorted(files))))
    return out


def _is_folder(pattern: str) -> bool:
    return pattern.endswith("/") or ("://" not in pattern and os.path.isdir(pattern))


def _options(source: BenchmarkSource) -> ReadOptions:
    # text_field names the column a plain-text line (or a Parquet check) is read into
    return ReadOptions(text_field=source.fields[0], text_mode="line")


def _texts(source: BenchmarkSource, row: Row, where: str) -> tuple[str, ...]:
    texts: list[str] = []
    for name in source.fields:
        if name not in row.fields or row.fields[name] is None:
            raise InputError(
                f"{source.key}.fields: field {name!r} is missing or null at {where}; "
                "fix the file or the field list"
            )
        value = row.fields[name]
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, bool) or not isinstance(v, str | int | float):
                raise InputError(
                    f"{source.key}.fields: field {name!r} at {where} holds "
                    f"{type(v).__name__}; use text fields (or lists of text)"
                )
            texts.append(str(v))
    return tuple(texts)


def _item_id(source: BenchmarkSource, path: str, row: Row) -> str:
    if source.id_field is not None:
        value = row.fields.get(source.id_field)
        if value is None or isinstance(value, dict | list):
            raise InputError(
                f"{source.key}.id_field: {source.id_field!r} is missing or not a scalar in "
                f"{path} at record {row.position + 1}"
            )
        return str(value)
    return f"{path.rsplit('/', 1)[-1]}:{row.position + 1}"


def read_items(source: BenchmarkSource, path: str) -> Iterator[BenchmarkItem]:
    """The items of one benchmark file, in file order. Item ids: the ``id_field`` value, else
    ``FILE_NAME:N`` with N the 1-based line (JSON Lines, text) or row (CSV, Parquet)."""
    try:
        raw = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
    except Exception as exc:
        raise InputError(f"{source.key}.paths: cannot open {path} ({type(exc).__name__})") from exc
    with raw:
        for item in read_rows(raw, path, _options(source)):
            if not isinstance(item, Row) and item.error_type == "missing_text":
                raise InputError(  # a Parquet file without the first field's column
                    f"{source.key}.fields: field {source.fields[0]!r} is missing in {path}; "
                    "fix the file or the field list"
                )
            if not isinstance(item, Row):
                raise InputError(
                    f"{source.key}: {path} record {item.position + 1}: {item.error_type} "
                    f"({item.message})"
                )
            where = f"{path} record {item.position + 1}"
            yield BenchmarkItem(
                source.name, _item_id(source, path, item), _texts(source, item, where)
            )


@dataclasses.dataclass(frozen=True)
class Scan:
    """The launch-time scan: a summary per benchmark and, when every benchmark together has at
    most ``keep`` n-grams (the side-input case), their items (read once, indexed at launch)."""

    summaries: list[BenchmarkSummary]
    items: list[BenchmarkItem] | None


def scan(sources: Sequence[BenchmarkSource], n: int, keep: int = 0) -> Scan:
    """Read every benchmark once at launch: check it and count its items and n-grams; keep the
    items while their n-grams stay within ``keep``.

    Raises ``InputError`` naming the benchmark for bad records, missing fields, repeated item
    ids and benchmarks without any item.
    """
    out = []
    items: list[BenchmarkItem] | None = []
    total = 0
    for source in sources:
        ids: set[str] = set()
        grams = short = 0
        for path in source.files:
            for item in read_items(source, path):
                if item.item_id in ids:
                    raise InputError(
                        f"{source.key}: item id {item.item_id!r} appears twice; ids must be "
                        "unique within a benchmark (set id_field, or give files distinct names)"
                    )
                ids.add(item.item_id)
                # an upper bound (repeats within an item are not removed), without hashing
                count = sum(max(0, len(match_tokens(t)) - n + 1) for t in item.texts)
                grams += count
                short += not count
                total += count
                if items is not None:
                    items.append(item)
                    if total > keep:
                        items = None
        if not ids:
            raise InputError(
                f"{source.key}.paths: the benchmark has no items (files: "
                f"{', '.join(source.files)}); point it at its evaluation file"
            )
        out.append(BenchmarkSummary(source.name, len(ids), grams, short))
    return Scan(out, items)


INDEX_PREFIX = "benchmark-index-"


def write_index(index: BenchmarkIndex, directory: str) -> str:
    """Save ``index`` under ``directory`` (any Beam path) as ``benchmark-index-<sha256>.npz``
    (no pickles) and return its path. The name is the content's digest, so a file already
    there (a batched run's earlier batch) is the same index and is left as it is."""
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **index.to_arrays())
    data = buf.getvalue()
    path = FileSystems.join(directory, f"{INDEX_PREFIX}{hashlib.sha256(data).hexdigest()[:32]}.npz")
    if not FileSystems.exists(path):
        tmp = f"{path}.tmp-{os.getpid()}"
        with FileSystems.create(tmp, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
            fh.write(data)
        FileSystems.rename([tmp], [path])
    return path


def read_index(path: str) -> BenchmarkIndex:
    """The index ``write_index`` saved at ``path``."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        data = fh.read()
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        return BenchmarkIndex.from_arrays({k: arrays[k] for k in arrays.files})
