"""A small thresher output directory for the finetune tests, written with the real schema."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from thresher.schema import DOCUMENT_SCHEMA

_WORDS = tuple(
    [
        "the",
        "cat",
        "sat",
        "on",
        "a",
        "mat",
        "and",
        "dog",
        "ran",
        "to",
        "park",
        "with",
        "big",
        "red",
        "ball",
        "in",
        "sun",
    ]
)


def make_output(directory: Path, records: int = 120, users: int = 12, seed: int = 0) -> Path:
    """``records`` rows, author ``user{i % users}``, label pos/neg announced by the first
    words (so a classifier can learn it in a few steps), and a manifest.json."""
    rng = random.Random(seed)
    rows = []
    for i in range(records):
        label = "pos" if i % 2 else "neg"
        body = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 20)))
        lead = "good great fine" if label == "pos" else "bad awful poor"
        rows.append(
            {
                "id": f"r{i:04d}",
                "text": f"{lead} {body}",
                "source": "corpus.jsonl",
                "position": i,
                "meta": json.dumps({"author": f"user{i % users}", "label": label}),
                "language": "en",
                "language_score": 1.0,
                "signals": [],
                "modifications": [],
            }
        )
    (directory / "data").mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA)
    pq.write_table(table, directory / "data" / "part-00000-of-00001.parquet")
    manifest = {"status": "succeeded", "counts": {"input": records, "kept": records}}
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return directory
