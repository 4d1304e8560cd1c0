"""Every access fine-tuning makes to a curated output directory ``DIR``, in one place, through
the shared output layer (:mod:`thresher.output`: Beam ``FileSystems``, so ``DIR`` may be any
Beam path for reading).

``thresher finetune DIR`` reads ``DIR/manifest.json`` (the dataset's identity: its sha256 names
the dataset in the privacy ledger; and the recipe's ``finetune`` section) and the Parquet
shards under ``DIR/data/``, and keeps its privacy ledger at ``DIR/privacy_ledger.json``
(written by ``thresher.finetune.ledger`` under an exclusive file lock, so the ledger needs a
local ``DIR``). Messages name files and directories, never record contents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thresher.errors import InputError
from thresher.output import fs, layout
from thresher.output import manifest_sha256 as _manifest_sha256
from thresher.output import read_manifest as _read

LEDGER = layout.LEDGER
_COLUMNS = ["id", "text", "meta"]
# document/2 and later: a conversation's turns (null for a document); absent in document/1
_MESSAGES = "messages"


def manifest_sha256(directory: str | Path) -> str:
    """sha256 of ``DIR/manifest.json``'s bytes: the dataset's identity in the ledger. Raises
    ``InputError`` when ``directory`` is not a thresher output (no manifest)."""
    layout.require_output(str(directory))
    return _manifest_sha256(str(directory))


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """``DIR/manifest.json`` as saved (validated against the manifest model)."""
    try:
        return _read(str(directory)).as_json()
    except ValueError as exc:  # pydantic's ValidationError and JSON errors
        raise InputError(
            f"{layout.MANIFEST} in {str(directory)!r} is not a thresher manifest "
            f"({type(exc).__name__})"
        ) from exc


def data_shards(directory: str | Path) -> list[str]:
    """The kept-record shards ``DIR/data/*.parquet`` in name (= shard) order; ``InputError``
    when there are none."""
    shards = layout.shards(str(directory), layout.DATA)
    if not shards:
        raise InputError(f"no Parquet shards under {layout.path(str(directory), layout.DATA)!r}")
    return shards


def read_rows(shard: str) -> list[dict[str, Any]]:
    """The ``id``, ``text``, ``meta`` (a JSON string) and ``messages`` (a list of
    ``{role, content}``, None for a document and for shards older than ``document/2``) of
    every row of one shard, in order."""
    table = fs.read_table(shard)
    names = [c for c in (*_COLUMNS, _MESSAGES) if c in table.column_names]
    rows: list[dict[str, Any]] = table.select(names).to_pylist()
    for row in rows:
        row.setdefault(_MESSAGES, None)
    return rows


def ledger_path(directory: str | Path) -> Path:
    """Where the privacy ledger of the dataset ``directory`` lives."""
    return Path(directory) / LEDGER
