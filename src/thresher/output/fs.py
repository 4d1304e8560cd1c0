"""Reading and writing an output directory through Beam ``FileSystems`` only.

Every command that touches an output (run, report, explain, audit, forget, reidentify,
finetune) goes through these helpers, so each takes any path Beam can reach (local, ``gs://``,
``s3://``, ...). Nothing here imports a filesystem plugin eagerly: building a Dataflow graph on a
laptop must not need ``gcsfs``; Beam resolves the scheme when a path is first used.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from thresher.paths import join_uri

INPROGRESS = ".inprogress"


def join(base: str, *parts: str) -> str:
    """Join path parts the way Beam would, for local paths and URIs alike."""
    return join_uri(base, *parts)


def exists(path: str) -> bool:
    return bool(FileSystems.exists(path))


def mkdirs(path: str) -> None:
    """Create ``path`` (and parents) unless it exists; object stores need nothing."""
    if not exists(path):
        FileSystems.mkdirs(path)


def delete(paths: Iterable[str]) -> None:
    targets = [p for p in paths if exists(p)]
    if targets:
        FileSystems.delete(targets)


def rename(src: str, dst: str) -> None:
    """Move ``src`` over ``dst`` (deleting ``dst`` first: some filesystems refuse to replace)."""
    if exists(dst):
        FileSystems.delete([dst])
    FileSystems.rename([src], [dst])


def files(directory: str, pattern: str = "*") -> list[str]:
    """Sorted paths of the files directly under ``directory`` matching ``pattern``."""
    if not exists(directory):
        return []
    result = FileSystems.match([join(directory, pattern)])[0]
    return sorted(m.path for m in result.metadata_list)


def all_files(directory: str) -> list[str]:
    """Every file below ``directory`` (recursively); empty when it does not exist."""
    try:
        found = FileSystems.match([join(directory, "**")])[0].metadata_list
    except Exception:  # a missing directory is "no files" on every filesystem
        return []
    return sorted(m.path for m in found)


def size(path: str) -> int:
    return int(FileSystems.match([path])[0].metadata_list[0].size_in_bytes)


def read_bytes(path: str) -> bytes:
    with FileSystems.open(path) as fh:
        data: bytes = fh.read()
    return data


def read_json(path: str) -> Any:
    return json.loads(read_bytes(path).decode("utf-8"))


def write_atomic(path: str, data: bytes) -> str:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a part:
    write a sibling ``*.inprogress`` file, then rename it over ``path``."""
    tmp = path + INPROGRESS
    with FileSystems.create(tmp) as fh:
        fh.write(data)
    rename(tmp, path)
    return path


def write_text_atomic(path: str, text: str) -> str:
    return write_atomic(path, text.encode("utf-8"))


def json_bytes(obj: Any) -> bytes:
    """The one JSON layout of thresher's files: sorted keys, two-space indent, final newline."""
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _arrow_buffer(path: str) -> pa.BufferReader:
    """The file's bytes copied into Arrow-owned memory. Handed a Python file object, pyarrow
    leaves buffer releases queued on its I/O thread pool after a read returns; one that runs
    during interpreter shutdown needs the GIL, its thread is torn down and the process aborts
    (``terminate called without an active exception``, exit 134; apache/arrow#33975, #34314).
    An Arrow-owned buffer has no Python object to release."""
    with FileSystems.open(path) as fh:
        sink = pa.BufferOutputStream()
        sink.write(fh.read())
    return pa.BufferReader(sink.getvalue())


def read_table(path: str, columns: list[str] | None = None) -> pa.Table:
    """One Parquet file, read through ``FileSystems`` (any Beam path)."""
    return pq.read_table(_arrow_buffer(path), columns=columns, pre_buffer=False)


def parquet_rows(path: str) -> int:
    return int(pq.ParquetFile(_arrow_buffer(path)).metadata.num_rows)


def write_table_atomic(path: str, table: pa.Table, compression: str = "zstd") -> str:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression=compression)
    return write_atomic(path, sink.getvalue())
