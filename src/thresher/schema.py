"""Output Parquet schemas, declared in code (never inferred from the first record).

``schemas/*.json`` are exported from here by ``python -m thresher.schema``; a test fails when
the files and this module drift apart.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from thresher.records import DeadLetter, Document, Fate, IndexEntry, PiiFinding

MESSAGES_TYPE = pa.list_(
    pa.struct(
        [pa.field("role", pa.string(), nullable=False), pa.field("content", pa.string(), False)]
    )
)

DOCUMENT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("position", pa.int64(), nullable=False),
        # The input's other fields as a JSON object: types preserved, schema stable across inputs.
        pa.field("meta", pa.string(), nullable=False),
        pa.field("language", pa.string()),
        pa.field("language_score", pa.float64()),
        # Numeric annotations as (name, value) pairs: Arrow maps are not loadable by Hugging Face
        # `datasets`, lists of structs are (and by pandas and DuckDB).
        pa.field(
            "signals",
            pa.list_(pa.struct([pa.field("name", pa.string()), pa.field("value", pa.float64())])),
        ),
        pa.field("modifications", pa.list_(pa.string())),
        # PII replaced in this record: spans index the output text (or the meta field named
        # by `field`); `value_hmac` is a keyed hash of the normalized original, never the value.
        pa.field(
            "pii",
            pa.list_(
                pa.struct(
                    [
                        pa.field("field", pa.string()),
                        pa.field("entity_type", pa.string(), nullable=False),
                        pa.field("start", pa.int64(), nullable=False),
                        pa.field("end", pa.int64(), nullable=False),
                        pa.field("operator", pa.string(), nullable=False),
                        pa.field("score", pa.float64(), nullable=False),
                        pa.field("value_hmac", pa.string()),
                    ]
                )
            ),
        ),
        # Conversations: the turns, TRL's conversational `messages` as-is; null for a document.
        # `text` holds their contents, blank-line separated (thresher.records.render_turns).
        pa.field("messages", MESSAGES_TYPE),
    ],
    metadata={"thresher.schema": "document/2"},
)

LINEAGE_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("position", pa.int64(), nullable=False),
        pa.field("fate", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason", pa.string()),
        pa.field("duplicate_of", pa.string()),
        pa.field("cluster_id", pa.string()),
        pa.field("details", pa.string()),  # JSON: the numbers behind the decision, never text
    ],
    metadata={"thresher.schema": "lineage/1"},
)

DEAD_LETTER_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("position", pa.int64(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("error_type", pa.string(), nullable=False),
        pa.field("message", pa.string(), nullable=False),
    ],
    metadata={"thresher.schema": "dead_letter/1"},
)

# DIR/index/: one row per kept document, written by near dedup for incremental runs
# (`--dedup-against DIR`). The LSH parameters that produced the signatures are stored in the
# file metadata under `thresher.near_dedup` (JSON), see `index_schema`.
INDEX_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("position", pa.int64(), nullable=False),
        pa.field("length", pa.int64(), nullable=False),  # characters of the text
        pa.field("signature", pa.binary(), nullable=False),  # num_perm x uint32, little-endian
        pa.field("band_keys", pa.list_(pa.binary()), nullable=False),
    ],
    metadata={"thresher.schema": "index/1"},
)
INDEX_PARAMS_KEY = "thresher.near_dedup"

SCHEMAS: Mapping[str, pa.Schema] = {
    "document": DOCUMENT_SCHEMA,
    "lineage": LINEAGE_SCHEMA,
    "dead_letter": DEAD_LETTER_SCHEMA,
    "index": INDEX_SCHEMA,
}


def index_schema(params: Mapping[str, Any]) -> pa.Schema:
    """``INDEX_SCHEMA`` carrying the LSH parameters of the signatures in its metadata."""
    meta = dict(INDEX_SCHEMA.metadata or {})
    meta[INDEX_PARAMS_KEY.encode()] = json.dumps(dict(params), sort_keys=True).encode()
    return INDEX_SCHEMA.with_metadata(meta)


def _json_default(value: Any) -> Any:
    # Parquet inputs bring datetimes, decimals and bytes into meta; keep them readable.
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


# PiiFinding's fields, all scalars: a row's ``pii`` entries are built from them directly
# (``dataclasses.asdict`` deep-copies each value, 6.5 µs a finding against 0.5 µs; a long
# document holds hundreds of findings).
_PII_FINDING_FIELDS = tuple(f.name for f in dataclasses.fields(PiiFinding))


def document_row(doc: Document, sources: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``data/`` row of ``doc``; ``sources`` maps a record's source path to the name
    published for it (``InputFile.published``; a path it does not hold is written as is)."""
    return {
        "id": doc.id,
        "text": doc.text,
        "source": sources.get(doc.source, doc.source) if sources else doc.source,
        "position": doc.position,
        "meta": json.dumps(doc.meta, sort_keys=True, ensure_ascii=False, default=_json_default),
        "language": doc.language,
        "language_score": doc.language_score,
        "signals": [{"name": k, "value": float(v)} for k, v in sorted(doc.signals.items())],
        "modifications": list(doc.modifications),
        "pii": [{name: getattr(f, name) for name in _PII_FINDING_FIELDS} for f in doc.pii],
        "messages": [{"role": t.role, "content": t.content} for t in doc.messages]
        if doc.messages
        else None,
    }


def lineage_row(fate: Fate) -> dict[str, Any]:
    return {
        "id": fate.id,
        "source": fate.source,
        "position": fate.position,
        "fate": fate.fate,
        "stage": fate.stage,
        "reason": fate.reason,
        "duplicate_of": fate.duplicate_of,
        "cluster_id": fate.cluster_id,
        "details": fate.details_json(),
    }


def index_row(entry: IndexEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "source": entry.source,
        "position": entry.position,
        "length": entry.length,
        "signature": entry.signature,
        "band_keys": list(entry.band_keys),
    }


def dead_letter_row(dl: DeadLetter) -> dict[str, Any]:
    return {
        "id": dl.id,
        "source": dl.source,
        "position": dl.position,
        "stage": dl.stage,
        "error_type": dl.error_type,
        "message": dl.message,
    }


def schema_to_json(schema: pa.Schema) -> dict[str, Any]:
    return {
        "metadata": {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()},
        "fields": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema],
    }


def export_schemas(directory: str | Path) -> list[Path]:
    """Write every schema (Parquet ones and the recipe's JSON Schema) into ``directory``."""
    from thresher.config import recipe_json_schema
    from thresher.output.manifest import manifest_json_schema

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in SCHEMAS.items():
        path = out / f"{name}.parquet-schema.json"
        path.write_text(json.dumps(schema_to_json(schema), indent=2) + "\n", encoding="utf-8")
        written.append(path)
    path = out / "recipe.schema.json"
    path.write_text(json.dumps(recipe_json_schema(), indent=2) + "\n", encoding="utf-8")
    written.append(path)
    path = out / "manifest.schema.json"
    path.write_text(json.dumps(manifest_json_schema(), indent=2) + "\n", encoding="utf-8")
    written.append(path)
    return written


if __name__ == "__main__":
    import sys

    for p in export_schemas(sys.argv[1] if len(sys.argv) > 1 else "schemas"):
        print(p)
