"""Fuzzing the new readers (hypothesis): conversation and instruction validation on arbitrary
JSON, and the JSON-array reader on arbitrary bytes. No input raises out of the reader, every
record yields exactly one ``Document`` or ``DeadLetter``, positions are complete, and the
result does not depend on where the stream's chunks are cut."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thresher.errors import RecordError
from thresher.io.chat import ChatMapping
from thresher.io.formats import ReadOptions, read_file, read_json, to_document
from thresher.records import ROLES, DeadLetter, Document, render_turns

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
roles = st.sampled_from([*ROLES, "human", "gpt", "bot", "", "User"]) | json_values
turn = st.fixed_dictionaries(
    {}, optional={"role": roles, "content": st.text() | json_values, "name": json_values}
)
turn_like = turn | json_values
chat_record = st.fixed_dictionaries(
    {}, optional={"messages": st.lists(turn_like, max_size=5) | json_values, "id": json_values}
) | st.dictionaries(st.text(max_size=8), json_values, max_size=4)
instruction_record = st.fixed_dictionaries(
    {},
    optional={
        "instruction": st.text() | json_values,
        "input": st.text() | json_values,
        "output": st.text() | json_values,
        "sys": st.text() | json_values,
    },
)
OPTIONS = [
    ReadOptions(record="chat", id_field="id", max_document_bytes=200),
    ReadOptions(
        record="chat",
        chat=ChatMapping(roles=(("human", "user"), ("gpt", "assistant"))),
        max_document_bytes=10_000,
    ),
]


def _check_one(obj: dict, opts: ReadOptions) -> None:
    try:
        doc = to_document(obj, "f.jsonl", 3, opts)
    except RecordError as err:
        assert err.error_type and err.message
        return
    assert doc.is_chat and doc.text == render_turns(doc.messages)
    assert all(t.role in ROLES and isinstance(t.content, str) for t in doc.messages)
    assert all(t.role != "system" for t in doc.messages[1:])
    assert sum(len(t.content.encode("utf-8", "surrogatepass")) for t in doc.messages) <= (
        opts.max_document_bytes
    )


@FUZZ
@given(chat_record)
def test_chat_validation_never_raises_anything_else(obj):
    for opts in OPTIONS:
        _check_one(obj, opts)


@FUZZ
@given(instruction_record)
def test_instruction_validation_never_raises_anything_else(obj):
    from thresher.io.chat import InstructionMapping

    opts = ReadOptions(record="instruction", instruction=InstructionMapping(system_field="sys"))
    _check_one(obj, opts)


@FUZZ
@given(st.lists(chat_record | json_values, max_size=8))
def test_every_jsonl_line_is_one_item(records):
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    items = list(read_file(io.BytesIO(data), "f.jsonl", OPTIONS[0]))
    assert [i.position for i in items] == list(range(len(records)))


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def _summary(data: bytes, size: int) -> list[tuple]:
    items = read_json(_chunks(data, size), "f.json", OPTIONS[1])
    return [
        (i.position, i.error_type if isinstance(i, DeadLetter) else dict(i.fields)) for i in items
    ]


@FUZZ
@given(
    st.lists(chat_record | json_values, max_size=8),
    st.sampled_from([None, 0, 1, "  "]),
    st.integers(1, 64),
)
def test_a_json_array_yields_one_item_per_element(records, indent, size):
    data = json.dumps(records, indent=indent).encode()
    items = _summary(data, size)
    assert [p for p, _ in items] == list(range(len(records)))
    for (_, got), rec in zip(items, records, strict=True):
        if isinstance(rec, dict):
            assert got == rec
        else:
            assert got == "invalid_record"
    docs = list(read_file(io.BytesIO(data), "f.json", OPTIONS[0]))
    assert [d.position for d in docs] == list(range(len(records)))
    assert all(isinstance(d, Document | DeadLetter) for d in docs)


@FUZZ
@given(st.binary(max_size=200), st.integers(1, 16))
def test_arbitrary_bytes_after_a_bracket_never_escape_and_positions_are_complete(tail, size):
    data = b"[" + tail
    whole = _summary(data, len(data))
    assert [p for p, _ in whole] == list(range(len(whole)))
    assert _summary(data, size) == whole  # wherever the chunks are cut


@FUZZ
@given(
    st.lists(chat_record, min_size=1, max_size=6),
    st.lists(st.tuples(st.integers(0, 10_000), st.binary(max_size=3)), max_size=4),
    st.integers(1, 16),
)
def test_damaged_arrays_never_escape_and_positions_are_complete(records, edits, size):
    data = bytearray(json.dumps(records).encode())
    for at, insert in edits:  # replace a byte (or insert, when `insert` is longer)
        at %= len(data)
        data[at : at + 1] = insert
    data = bytes(data)
    whole = _summary(data, max(1, len(data)))
    if data.lstrip(b" \t\r\n").startswith(b"["):
        assert [p for p, _ in whole] == list(range(len(whole)))
    assert _summary(data, size) == whole
    positions = [i.position for i in read_file(io.BytesIO(data), "f.json", OPTIONS[0])]
    assert positions == sorted(set(positions))
