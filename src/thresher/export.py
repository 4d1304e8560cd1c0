"""``thresher export DIR --format F --output PATH``: an output's kept records as trainer-ready
JSON Lines.

Formats (one JSON object per line, UTF-8, non-ASCII characters as they are):

- ``openai``: ``{"messages": [{"role": ..., "content": ...}, ...]}``, the OpenAI fine-tuning
  API's and TRL's conversational format. Conversations only.
- ``sharegpt``: ``{"conversations": [{"from": "human"|"gpt"|"system"|"tool", "value": ...}]}``.
  Conversations only.
- ``alpaca``: ``{"instruction": ..., "input": "", "output": ...}`` (plus ``"system"`` when the
  conversation starts with a system turn), for records that are one user -> assistant
  exchange. An instruction pair read with ``input.record: instruction`` joined its prompt
  fields into the user turn, so ``instruction`` holds all of them and ``input`` is empty.
- ``text``: ``{"text": ...}`` for every record (a conversation's turns blank-line separated).

A format that cannot hold every record is refused before anything is written (``ConfigError``:
exit 2), naming how many records do not fit and the first one's id: nothing is silently left
out. ``--id`` adds each record's ``id``. Lines are in record-id order, so the same kept records
give the same file whatever the sharding. ``DIR`` and ``PATH`` may be any Beam path; ``PATH``
appears atomically (written beside it, then renamed), compressed when its name says so
(``.gz``, ``.bz2``, ...). Memory: the ``id``, ``text`` and ``messages`` columns of ``data/``
are held (as Arrow tables) while writing. Nothing here prints or logs record text.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from thresher.errors import ConfigError, InputError, OutputError
from thresher.output import fs, layout

FORMATS = ("openai", "sharegpt", "alpaca", "text")
SHAREGPT_ROLES = {"user": "human", "assistant": "gpt", "system": "system", "tool": "tool"}
_COLUMNS = ["id", "text", "messages"]
_BATCH = 1024

Row = Mapping[str, Any]
Line = dict[str, Any]


def _openai(row: Row) -> Line | None:
    messages = row["messages"]
    if messages is None:
        return None
    return {"messages": [{"role": m["role"], "content": m["content"]} for m in messages]}


def _sharegpt(row: Row) -> Line | None:
    messages = row["messages"]
    if messages is None:
        return None
    turns = [{"from": SHAREGPT_ROLES[m["role"]], "value": m["content"]} for m in messages]
    return {"conversations": turns}


def _alpaca(row: Row) -> Line | None:
    turns = list(row["messages"] or ())
    system = turns.pop(0)["content"] if turns and turns[0]["role"] == "system" else None
    if [t["role"] for t in turns] != ["user", "assistant"]:
        return None
    line: Line = {"instruction": turns[0]["content"], "input": "", "output": turns[1]["content"]}
    if system is not None:
        line["system"] = system
    return line


def _text(row: Row) -> Line | None:
    return {"text": row["text"]}


CONVERTERS: Mapping[str, Callable[[Row], Line | None]] = {
    "openai": _openai,
    "sharegpt": _sharegpt,
    "alpaca": _alpaca,
    "text": _text,
}

# What a refused record is, and what to use instead, per format.
_WHY = {
    "openai": ("documents (a document has no turns)", "use --format text"),
    "sharegpt": ("documents (a document has no turns)", "use --format text"),
    "alpaca": (
        "multi-turn conversations or documents (alpaca holds one user -> assistant exchange, "
        "optionally after a system turn)",
        "use --format openai or sharegpt for conversations, --format text for anything",
    ),
}


def convert(fmt: str, row: Row, with_id: bool = False) -> Line | None:
    """One ``data/`` row (``id``, ``text``, ``messages``) in format ``fmt``; None when the
    format cannot hold it."""
    line = CONVERTERS[fmt](row)
    if line is None or not with_id:
        return line
    return {"id": row["id"], **line}


@dataclasses.dataclass(frozen=True)
class Exported:
    """What ``export`` wrote: ``records`` lines in ``fmt`` to ``path``."""

    records: int
    path: str
    fmt: str


def _read(shard: str) -> pa.Table:
    try:
        return fs.read_table(shard, columns=_COLUMNS)
    except (KeyError, pa.ArrowInvalid):  # a document/1 output: no messages column
        table = fs.read_table(shard, columns=["id", "text"])
        return table.append_column("messages", pa.nulls(len(table), pa.list_(pa.null())))


def _rows(table: pa.Table) -> Iterator[dict[str, Any]]:
    for batch in table.to_batches(max_chunksize=_BATCH):
        yield from batch.to_pylist()


def sorted_rows(tables: Sequence[pa.Table]) -> Iterator[dict[str, Any]]:
    """Every row of ``tables`` in id order (each table sorted, then merged)."""
    return heapq.merge(*(_rows(t.sort_by("id")) for t in tables), key=lambda r: r["id"])


def _refusal(fmt: str, tables: Sequence[pa.Table], directory: str) -> str | None:
    """Why ``fmt`` cannot hold the records, naming how many and the first id; else None."""
    convert_row = CONVERTERS[fmt]
    count, first = 0, None
    for table in tables:
        for row in _rows(table):
            if convert_row(row) is None:
                count += 1
                first = row["id"] if first is None else min(first, row["id"])
    if not count:
        return None
    what, instead = _WHY[fmt]
    total = sum(len(t) for t in tables)
    return (
        f"--format {fmt} cannot hold {count} of the {total} records in {directory!r}: "
        f"{what}; the first is id {first!r}. Nothing was written; {instead}"
    )


def _lines(fmt: str, rows: Iterable[Row], with_id: bool) -> Iterator[bytes]:
    for row in rows:
        line = convert(fmt, row, with_id)
        if line is not None:  # the refusal check ran first; kept for type narrowing
            yield (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")


def _write(path: str, chunks: Iterable[bytes]) -> int:
    """Stream ``chunks`` to ``path`` atomically (a sibling ``.inprogress`` file renamed over
    it), compressed as ``path``'s extension says. Returns the number of chunks."""
    tmp = path + fs.INPROGRESS
    n = 0
    try:
        with FileSystems.create(
            tmp, compression_type=CompressionTypes.detect_compression_type(path)
        ) as fh:
            for chunk in chunks:
                fh.write(chunk)
                n += 1
        fs.rename(tmp, path)
    except BaseException:
        fs.delete([tmp])
        raise
    return n


def export(
    directory: str, fmt: str, output: str, with_id: bool = False, overwrite: bool = False
) -> Exported:
    """Write the kept records of the thresher output ``directory`` to ``output`` in ``fmt``.

    Raises ``InputError`` when ``directory`` is not an output, ``ConfigError`` for an unknown
    format or one that cannot hold every record (nothing is written), ``OutputError`` when
    ``output`` exists and ``overwrite`` is not set.
    """
    if fmt not in CONVERTERS:
        raise ConfigError(f"--format {fmt!r} is not a format; use one of {', '.join(FORMATS)}")
    layout.require_output(directory)
    if fs.exists(output) and not overwrite:
        raise OutputError(f"--output {output!r} exists; choose a new path or pass --overwrite")
    try:
        tables = [_read(s) for s in layout.shards(directory, layout.DATA)]
    except (OSError, pa.ArrowException) as exc:
        raise InputError(
            f"cannot read the data/ shards of {directory!r} ({type(exc).__name__}); is it a "
            "complete thresher output?"
        ) from exc
    refusal = _refusal(fmt, tables, directory)
    if refusal:
        raise ConfigError(refusal)
    written = _write(output, _lines(fmt, sorted_rows(tables), with_id))
    return Exported(records=written, path=output, fmt=fmt)


__all__ = ["FORMATS", "SHAREGPT_ROLES", "Exported", "convert", "export", "sorted_rows"]
