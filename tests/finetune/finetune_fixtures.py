"""A small thresher output directory for the finetune tests, written with the real schema."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from thresher.config import PipelineConfig
from thresher.output import Manifest, write_manifest
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
    write_manifest(str(directory), _manifest(records))
    return directory


_ANSWERS = ("sure the cat sat", "yes the dog ran to the park", "no the ball is red")


def chat_rows(records: int = 60, users: int = 10, seed: int = 0) -> list[dict]:
    """``records`` conversations (a system turn on every third one, then user, assistant, and
    a second user/assistant exchange on every other one), author ``user{i % users}``."""
    rng = random.Random(seed)
    rows = []
    for i in range(records):
        turns = [{"role": "system", "content": "be brief"}] if i % 3 == 0 else []
        for _ in range(1 + i % 2):
            question = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 8)))
            turns += [
                {"role": "user", "content": f"where {question}?"},
                {"role": "assistant", "content": rng.choice(_ANSWERS)},
            ]
        rows.append(
            {
                "id": f"c{i:04d}",
                "text": "\n\n".join(t["content"] for t in turns),
                "source": "chat.jsonl",
                "position": i,
                "meta": json.dumps({"author": f"user{i % users}"}),
                "language": "en",
                "language_score": 1.0,
                "signals": [],
                "modifications": [],
                "messages": turns,
            }
        )
    return rows


def make_chat_output(directory: Path, records: int = 60, users: int = 10) -> Path:
    """A chat output directory (``messages`` column set on every row) and its manifest."""
    (directory / "data").mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(chat_rows(records, users), schema=DOCUMENT_SCHEMA)
    pq.write_table(table, directory / "data" / "part-00000-of-00001.parquet")
    write_manifest(str(directory), _manifest(records))
    return directory


def _manifest(records: int) -> Manifest:
    """A manifest of the shape ``thresher run`` writes (the typed model is strict)."""
    shard = {"file": "data/part-00000-of-00001.parquet", "rows": records, "bytes": 0}
    return Manifest.model_validate(
        {
            "thresher_version": "0.1.0",
            "status": "succeeded",
            "failure": None,
            "recipe": PipelineConfig().model_dump(mode="json"),
            "recipe_hash": "fixture",
            "recipe_path": None,
            "runner": "FnApiRunner",
            "inputs": [{"path": "corpus.jsonl", "size_bytes": 0, "records": records}],
            "counts": {
                "input": records,
                "kept": records,
                "dropped": 0,
                "duplicate": 0,
                "dead_letter": 0,
            },
            "accounting": {"balanced": True},
            "dead_letter_fraction": 0.0,
            "stages": [
                {
                    "stage": "read",
                    "in": records,
                    "dropped": 0,
                    "duplicate": 0,
                    "dead_letter": 0,
                    "out": records,
                }
            ],
            "outputs": {"data": [shard]},
            "timings": {
                "started_at": "",
                "finished_at": "",
                "pipeline_seconds": 0.0,
                "total_seconds": 0.0,
                "docs_per_second": None,
            },
        }
    )
