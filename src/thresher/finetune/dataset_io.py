"""Every access fine-tuning makes to a curated output directory ``DIR``, in one place.

``thresher finetune DIR`` reads ``DIR/manifest.json`` (the dataset's identity: its sha256 names
the dataset in the privacy ledger; and the recipe's ``finetune`` section) and the Parquet
shards under ``DIR/data/``, and keeps its privacy ledger at ``DIR/privacy_ledger.json``
(written by ``thresher.finetune.ledger``, which takes the location from here). Nothing else of
``DIR`` is touched.

These reads use the local file system (``pathlib``); this module is the one place to move onto
a shared output layer. Only pyarrow and the standard library: it works without the ``dp``
extra. Messages name files and directories, never record contents.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from thresher.errors import InputError

MANIFEST = "manifest.json"
DATA = "data"
LEDGER = "privacy_ledger.json"
_COLUMNS = ["id", "text", "meta"]


def manifest_sha256(directory: str | Path) -> str:
    """sha256 of ``DIR/manifest.json``'s bytes: the dataset's identity in the ledger. Raises
    ``InputError`` when ``directory`` is not a thresher output (no manifest)."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise InputError(
            f"{str(directory)!r} is not a thresher output directory (no {MANIFEST}); "
            "pass the --output directory of a `thresher run`"
        )
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """``DIR/manifest.json`` as a dict; ``InputError`` when missing, unreadable or not an object."""
    manifest_sha256(directory)
    try:
        data = json.loads((Path(directory) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{MANIFEST} in {str(directory)!r} is not readable JSON") from exc
    if not isinstance(data, dict):
        raise InputError(f"{MANIFEST} in {str(directory)!r} is not a JSON object")
    return data


def data_shards(directory: str | Path) -> list[Path]:
    """The kept-record shards ``DIR/data/*.parquet`` in name (= shard) order; ``InputError``
    when there are none."""
    shards = sorted((Path(directory) / DATA).glob("*.parquet"))
    if not shards:
        raise InputError(f"no Parquet shards under {str(Path(directory) / DATA)!r}")
    return shards


def read_rows(shard: Path) -> list[dict[str, Any]]:
    """The ``id``, ``text`` and ``meta`` (a JSON string) of every row of one shard, in order."""
    rows: list[dict[str, Any]] = pq.read_table(shard, columns=_COLUMNS).to_pylist()
    return rows


def ledger_path(directory: str | Path) -> Path:
    """Where the privacy ledger of the dataset ``directory`` lives."""
    return Path(directory) / LEDGER
