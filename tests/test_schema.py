"""The ``data/`` row of a record (``thresher.schema.document_row``) and its Parquet schema."""

from __future__ import annotations

import dataclasses

import pyarrow as pa

from thresher.records import Document, PiiFinding
from thresher.schema import DOCUMENT_SCHEMA, document_row


def _findings() -> tuple[PiiFinding, ...]:
    return (
        PiiFinding(None, "PERSON", 0, 8, "replace", 0.85, "a1" * 32),
        PiiFinding("meta.author_email", "EMAIL_ADDRESS", 3, 20, "mask", 1.0, None),
    )


def test_pii_entries_hold_every_field_of_the_finding():
    doc = Document(id="d", text="<PERSON> wrote", source="s", position=0, pii=_findings())
    row = document_row(doc)
    assert row["pii"] == [dataclasses.asdict(f) for f in doc.pii]
    struct = DOCUMENT_SCHEMA.field("pii").type.value_type
    assert [struct.field(i).name for i in range(struct.num_fields)] == [
        f.name for f in dataclasses.fields(PiiFinding)
    ]
    table = pa.Table.from_pylist([row], schema=DOCUMENT_SCHEMA)
    assert table.column("pii").to_pylist() == [row["pii"]]
    assert document_row(dataclasses.replace(doc, pii=()))["pii"] == []
