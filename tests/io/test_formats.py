"""Unit tests of the file parsers (tier a): every bad input becomes a dead letter, good records
around it still come through, and messages never quote the record."""

import bz2
import gzip
import io
import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from thresher.io.formats import (
    ReadOptions,
    detect_compression,
    detect_format,
    iter_lines,
    read_file,
)
from thresher.records import DeadLetter, Document

OPTS = ReadOptions(id_field="id")
SECRET = "SECRET-TEXT-NEVER-IN-MESSAGES"


def parse(data: bytes, name: str, opts: ReadOptions = OPTS) -> list:
    return list(read_file(io.BytesIO(data), name, opts))


def kinds(items):
    return [
        (i.position, i.error_type) if isinstance(i, DeadLetter) else (i.position, i.id)
        for i in items
    ]


def jl(*objs) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objs)


@pytest.mark.parametrize(
    ("path", "fmt", "comp"),
    [
        ("a/b.jsonl", "jsonl", "none"),
        ("a/b.json.gz", "json", "gzip"),
        ("b.ndjson.zst", "jsonl", "zstd"),
        ("b.csv.bz2", "csv", "bzip2"),
        ("b.tsv", "tsv", "none"),
        ("b.parquet", "parquet", "none"),
        ("b.txt", "text", "none"),
        ("README", "text", "none"),
        ("gs://bucket/x/part-1.jsonl.gz", "jsonl", "gzip"),
    ],
)
def test_detection(path, fmt, comp):
    assert detect_format(path) == fmt
    assert detect_compression(path) == comp


def test_jsonl_bad_lines_become_dead_letters_and_good_ones_survive():
    lines = [
        json.dumps({"id": "a", "text": "good one", "lang": "en"}).encode(),
        b'{"id": "b", "text": "' + SECRET.encode() + b"",  # invalid JSON
        b'{"id": "c", "text": "bad \xff byte ' + SECRET.encode() + b'"}',
        b'{"id": "d"}',
        b'{"id": "e", "text": null}',
        b'{"id": "f", "text": ""}',
        b'{"id": "g", "text": 3.5}',
        b"[1, 2]",
        b'{"id": true, "text": "bool id"}',
        b'{"id": "", "text": "empty id"}',
        b"",
        json.dumps({"id": 7, "text": "int id"}).encode(),
        json.dumps({"text": "no id field"}).encode(),
    ]
    items = parse(b"\n".join(lines) + b"\n", "f.jsonl")
    assert kinds(items)[:10] == [
        (0, "a"),
        (1, "invalid_json"),
        (2, "invalid_utf8"),
        (3, "missing_text"),
        (4, "null_text"),
        (5, "empty_text"),
        (6, "invalid_text_type"),
        (7, "invalid_record"),
        (8, "invalid_id_type"),
        (9, "invalid_id"),
    ]
    assert kinds(items)[10] == (11, "7")
    last = items[11]
    assert isinstance(last, Document) and len(last.id) == 32  # derived id
    assert items[0].meta == {"lang": "en"}
    for item in items:
        if isinstance(item, DeadLetter):
            assert SECRET not in item.message
            assert item.source == "f.jsonl" and item.stage == "read"


def test_require_id_dead_letters_missing_ids():
    opts = ReadOptions(id_field="id", require_id=True)
    items = parse(jl({"text": "x"}), "f.jsonl", opts)
    assert kinds(items) == [(0, "missing_id")]


def test_bom_is_stripped_from_first_record():
    items = parse("\ufeff".encode() + jl({"id": "a", "text": "hi"}), "f.jsonl")
    assert kinds(items) == [(0, "a")]
    items = parse("\ufeffplain text".encode(), "f.txt")
    assert items[0].text == "plain text"


@pytest.mark.parametrize(
    ("ext", "compress"),
    [
        (".gz", gzip.compress),
        (".bz2", bz2.compress),
        (".zst", lambda b: zstandard.ZstdCompressor().compress(b)),
    ],
)
def test_compressed_jsonl(ext, compress):
    data = jl(*({"id": str(i), "text": f"doc {i}"} for i in range(50)))
    items = parse(compress(data), "f.jsonl" + ext)
    assert [i.id for i in items] == [str(i) for i in range(50)]


def test_concatenated_gzip_members_are_all_read():
    data = gzip.compress(jl({"id": "1", "text": "a"})) + gzip.compress(jl({"id": "2", "text": "b"}))
    assert [i.id for i in parse(data, "f.jsonl.gz")] == ["1", "2"]


@pytest.mark.parametrize(
    ("ext", "compress"),
    [
        (".gz", gzip.compress),
        (".bz2", lambda b: bz2.compress(b, compresslevel=1)),  # 100 kB blocks
        (".zst", lambda b: zstandard.ZstdCompressor().compress(b)),
    ],
)
def test_truncated_stream_keeps_records_before_the_break(ext, compress):
    rng = random.Random(7)
    words = [f"w{rng.randint(0, 10**6)}" for _ in range(400_000)]
    data = jl(
        *({"id": str(i), "text": " ".join(words[i * 2000 : (i + 1) * 2000])} for i in range(200))
    )
    blob = compress(data)
    items = parse(blob[: len(blob) // 2], "f.jsonl" + ext)
    docs = [i for i in items if isinstance(i, Document)]
    dead = [i for i in items if isinstance(i, DeadLetter)]
    assert 0 < len(docs) < 200
    assert [d.id for d in docs] == [str(i) for i in range(len(docs))]
    assert len(dead) == 1 and dead[0].error_type in ("truncated_input", "corrupt_input")
    assert dead[0].position == len(docs)


def test_corrupt_gzip_is_a_dead_letter():
    blob = bytearray(gzip.compress(jl(*({"id": str(i), "text": "x" * 50} for i in range(100)))))
    blob[30:60] = b"\x00" * 30
    items = parse(bytes(blob), "f.jsonl.gz")
    assert isinstance(items[-1], DeadLetter)
    assert items[-1].error_type in ("corrupt_input", "truncated_input")


def test_oversized_record_is_dead_lettered_with_bounded_memory():
    opts = ReadOptions(max_document_bytes=1000)
    big = json.dumps({"text": "y" * 5000}).encode()
    data = jl({"text": "small"}) + big + b"\n" + jl({"text": "after"})
    items = parse(data, "f.jsonl", opts)
    assert kinds(items)[1] == (1, "document_too_large")
    assert [i.text for i in items if isinstance(i, Document)] == ["small", "after"]
    assert "1000" in items[1].message


def test_fifty_megabyte_document_is_dead_lettered_by_default():
    text = ("z" * 1023 + " ") * (50 * 1024)
    data = jl({"id": "huge", "text": text}, {"id": "ok", "text": "fine"})
    items = parse(data, "f.jsonl", ReadOptions(id_field="id"))
    assert kinds(items) == [(0, "document_too_large"), (1, "ok")]


def test_iter_lines_handles_chunk_boundaries():
    chunks = iter([b"ab", b"c\nde", b"f\n", b"\n", b"g"])
    assert list(iter_lines(chunks, 100)) == [(b"abc", 3), (b"def", 3), (b"", 0), (b"g", 1)]


def test_csv_quoted_newlines_bad_rows_and_meta():
    body = (
        b'id,author,text\r\n1,ann,"first line\nsecond line"\r\n2,bob\r\n3,cy,"fine, with comma"\r\n'
    ) + b'4,dee,"bad \xff byte"\r\n'
    items = parse("\ufeff".encode() + body, "f.csv")
    assert kinds(items) == [(0, "1"), (1, "csv_field_count"), (2, "3"), (3, "invalid_utf8")]
    assert items[0].text == "first line\nsecond line"
    assert items[0].meta == {"author": "ann"}


def test_tsv_and_bz2():
    data = bz2.compress(b"id\ttext\n1\thello there\n2\tgeneral\n")
    assert [i.text for i in parse(data, "f.tsv.bz2")] == ["hello there", "general"]


def test_parquet_rows_types_and_missing_text_column(tmp_path):
    p = tmp_path / "a.parquet"
    pq.write_table(
        pa.table({"id": ["a", "b", "c"], "text": ["one", None, "three"], "n": [1, 2, 3]}), p
    )
    items = parse(p.read_bytes(), "a.parquet")
    assert kinds(items) == [(0, "a"), (1, "null_text"), (2, "c")]
    assert items[2].meta == {"n": 3}
    q = tmp_path / "b.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "body": ["x", "y"]}), q)
    assert kinds(parse(q.read_bytes(), "b.parquet")) == [(0, "missing_text"), (1, "missing_text")]
    assert kinds(parse(b"not parquet at all", "c.parquet")) == [(-1, "invalid_parquet")]


def test_text_modes_and_empty_file():
    assert parse(b"", "e.txt") == []
    assert parse(b"", "e.jsonl") == []
    assert parse(b"", "e.csv") == []
    doc = parse(b"one doc\nover two lines\n", "t.txt")
    assert len(doc) == 1 and doc[0].position == 0
    lines = parse(b"first\n\nsecond\n", "t.txt", ReadOptions(text_mode="line"))
    assert [(d.position, d.text) for d in lines] == [(0, "first"), (2, "second")]


def test_meta_fields_selection():
    opts = ReadOptions(id_field="id", meta_fields=("keep",))
    items = parse(jl({"id": "a", "text": "t", "keep": 1, "drop": 2}), "f.jsonl", opts)
    assert items[0].meta == {"keep": 1}


def test_ids_are_stable_across_parses():
    data = jl({"text": "a"}, {"text": "b"})
    first = [i.id for i in parse(data, "s3://b/f.jsonl")]
    assert first == [i.id for i in parse(data, "s3://b/f.jsonl")]
    assert first != [i.id for i in parse(data, "s3://b/g.jsonl")]
