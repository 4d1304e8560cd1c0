"""``.json`` files holding a top-level array of records (Alpaca, ShareGPT dumps): streamed
element by element, positions = indexes, a malformed element costs only itself, memory stays
bounded by ``max_document_bytes``, and batched reads give whole-file positions."""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc
from collections.abc import Iterator

import pytest
import zstandard

from thresher.io import formats
from thresher.io.formats import ReadOptions, Window, read_file, read_json
from thresher.io.split import plan_batches
from thresher.records import DeadLetter, Document

OPTS = ReadOptions(id_field="id")
SECRET = "SECRET-TEXT-NEVER-IN-MESSAGES"
TRICKY = [
    {"id": "a", "text": 'brackets ] } [ { and , commas, "quotes" and \\ backslashes \\'},
    {"id": "b", "text": "unicode é ü 中文 🙂 split across chunks", "meta": {"n": [1, [2, {}]]}},
    {"id": "c", "text": 'escaped \u005d \\u005d \\\\" \n newline', "x": None},
    {"id": "d", "text": "last", "deep": [[[[{"k": "]"}]]]]},
]


def kinds(items: list) -> list[tuple]:
    return [
        (i.position, i.error_type) if isinstance(i, DeadLetter) else (i.position, i.id)
        for i in items
    ]


def parse(data: bytes, name: str = "a.json", opts: ReadOptions = OPTS) -> list:
    return list(read_file(io.BytesIO(data), name, opts))


def in_chunks(data: bytes, size: int) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def rows(data: bytes, size: int, opts: ReadOptions = OPTS, window: Window = formats.WHOLE):
    out = []
    for item in read_json(in_chunks(data, size), "a.json", opts, window):
        out.append(item if isinstance(item, DeadLetter) else (item.position, dict(item.fields)))
    return out


@pytest.mark.parametrize("indent", [None, 0, 2, "\t"])
def test_every_chunk_size_gives_the_same_records(indent):
    data = b"\xef\xbb\xbf \n" + json.dumps(TRICKY, indent=indent, ensure_ascii=False).encode()
    expected = list(enumerate(TRICKY))
    for size in [*range(1, 40), 97, 1 << 20]:
        assert rows(data, size) == expected, size


def test_documents_from_an_array_file():
    docs = parse(json.dumps(TRICKY).encode())
    assert [(d.id, d.position, d.text) for d in docs] == [
        (r["id"], i, r["text"]) for i, r in enumerate(TRICKY)
    ]
    assert docs[1].meta == {"meta": {"n": [1, [2, {}]]}}


def test_small_read_chunks_through_the_decompression_path(monkeypatch):
    monkeypatch.setattr(formats, "_CHUNK", 5)
    data = json.dumps(TRICKY, indent=1).encode()
    plain = kinds(parse(data))
    assert plain == [(0, "a"), (1, "b"), (2, "c"), (3, "d")]
    assert kinds(parse(gzip.compress(data), "a.json.gz")) == plain
    assert kinds(parse(zstandard.ZstdCompressor().compress(data), "a.json.zst")) == plain


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"[]", []),
        (b" [ \n ] \n", []),
        (b'[{"id": "a", "text": "t"},]', [(0, "a")]),  # a trailing comma is tolerated
        (b"[,]", [(0, "invalid_json")]),  # an empty element is not
        (
            b'[{"id": "a", "text": "t"}, , {"id": "b", "text": "t"}]',
            [(0, "a"), (1, "invalid_json"), (2, "b")],
        ),
        (
            b'[{"id": "a", "text": "t"}, {"id": "b", "text": '
            + SECRET.encode()
            + b'}, {"id": "c", "text": "t"}]',
            [(0, "a"), (1, "invalid_json"), (2, "c")],
        ),
        (
            b'[{"id": "a", "text": "t"}, 3, "s", null, [1]]',
            [
                (0, "a"),
                (1, "invalid_record"),
                (2, "invalid_record"),
                (3, "invalid_record"),
                (4, "invalid_record"),
            ],
        ),
        (b'[{"id": "a", "text": "t"}}, {"id": "b", "text": "t"}]', [(0, "invalid_json"), (1, "b")]),
        (b'[{"id": "a", "text": "t"}] ', [(0, "a")]),
        (b'[{"id": "a", "text": "t"}] {"id": "b"}', [(0, "a"), (1, "trailing_data")]),
        (b'[{"id": "a", "text": "t"}, {"id": "b", "te', [(0, "a"), (1, "unterminated_array")]),
        (b'[{"id": "a", "text": "t"}, ', [(0, "a"), (1, "unterminated_array")]),
        (b"[", [(0, "unterminated_array")]),
        (
            b'[{"id": "a", "text": "\xff\xfe"}, {"id": "b", "text": "t"}]',
            [(0, "invalid_utf8"), (1, "b")],
        ),
        (b"[" + b"[" * 5000 + b"]" * 5000 + b"]", [(0, "invalid_json")]),  # nested too deeply
        # not an array: JSON Lines, as before
        (b'{"id": "a", "text": "t"}\n\n{"id": "b", "text": "t"}\n', [(0, "a"), (2, "b")]),
        (b"", []),
        (b"  \n ", []),
    ],
)
def test_array_edges(data, expected):
    items = parse(data)
    assert kinds(items) == expected
    assert all(SECRET not in i.message for i in items if isinstance(i, DeadLetter))


def test_dead_letters_name_the_index_and_byte_offset_never_the_content():
    data = b'[{"id": "a", "text": "t"}, {"text": ' + SECRET.encode() + b"}, 7, ["
    items = parse(data)
    assert kinds(items) == [
        (0, "a"),
        (1, "invalid_json"),
        (2, "invalid_record"),
        (3, "unterminated_array"),
    ]
    assert items[1].message.startswith("array element 1 is not valid JSON (Expecting value")
    assert items[2].message == "array element 2 is int, expected object"
    at = data.rindex(b",") + 1
    assert items[3].message.startswith(
        f"the file ends inside the JSON array: element 3 (from byte {at}, {len(data) - at} bytes"
    )
    assert all(SECRET not in i.message for i in items[1:])


def test_a_malformed_element_that_does_not_balance_makes_the_rest_one_dead_letter():
    good = json.dumps({"id": "z", "text": "t"})
    data = f'[{good}, {{"id": "b", "text": "no end}}, {good}, {good}]'.encode()
    items = parse(data)
    assert kinds(items) == [(0, "z"), (1, "unterminated_array")]
    assert f"from byte {len(good) + 2}," in items[1].message


def test_a_truncated_compressed_array_ends_with_one_dead_letter():
    data = gzip.compress(
        json.dumps([{"id": str(i), "text": "x" * 50} for i in range(200)]).encode()
    )
    items = parse(data[: len(data) // 2], "a.json.gz")
    got = kinds(items)
    assert got[-1][1] == "truncated_input"
    assert [p for p, _ in got] == list(range(len(got)))  # positions complete
    assert all(isinstance(i, Document) for i in items[:-1])


def test_an_element_over_the_limit_is_dead_lettered_in_bounded_memory(monkeypatch):
    """A 16 MB element with a 1 MB limit: dead-lettered with its size, and the reader never
    holds much more than the limit (plus one chunk)."""
    limit = 1 << 20
    monkeypatch.setattr(formats, "_CHUNK", 1 << 16)
    big = b'{"id": "big", "text": "' + b"x" * (16 << 20) + b'"}'
    data = b'[{"id": "a", "text": "t"}, ' + big + b', {"id": "b", "text": "t"}]'
    stream = io.BytesIO(data)
    size = len(big) + 1  # with the space after the comma
    del big
    tracemalloc.start()
    try:
        items = list(
            read_file(stream, "a.json", ReadOptions(id_field="id", max_document_bytes=limit))
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert kinds(items) == [(0, "a"), (1, "document_too_large"), (2, "b")]
    assert (
        items[1].message == f"array element 1 is {size} bytes; input.max_document_bytes is {limit}"
    )
    assert peak < 3 * limit, peak


class _Endless(io.RawIOBase):
    """A large array made on the fly, never held whole (by the test either)."""

    def __init__(self, n: int) -> None:
        self._parts = self._gen(n)
        self._buf = b""

    @staticmethod
    def _gen(n: int) -> Iterator[bytes]:
        yield b"["
        for i in range(n):
            yield (b"," if i else b"") + json.dumps({"id": str(i), "text": "w " * 200}).encode()
        yield b"]"

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while len(self._buf) < len(b):
            nxt = next(self._parts, None)
            if nxt is None:
                break
            self._buf += nxt
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def test_a_large_array_is_streamed_not_loaded(monkeypatch):
    monkeypatch.setattr(formats, "_CHUNK", 1 << 16)
    n = 6_000  # about 2.5 MB of JSON
    tracemalloc.start()
    try:
        count = last = 0
        for item in read_file(io.BufferedReader(_Endless(n)), "big.json", OPTS):
            assert isinstance(item, Document)
            count, last = count + 1, item.position
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (count, last) == (n, n - 1)
    assert peak < 1 << 20, peak


def test_a_window_reads_whole_file_positions():
    data = json.dumps([{"id": str(i), "text": "t"} for i in range(10)] + [3]).encode()
    whole = kinds(parse(data))
    for start, stop in [(0, 3), (3, 7), (7, None), (9, None), (10, None), (2, 2)]:
        got = kinds(list(read_file(io.BytesIO(data), "a.json", OPTS, Window(start, stop))))
        assert got == [k for k in whole if k[0] >= start and (stop is None or k[0] < stop)]


def test_batched_runs_cut_an_array_file_by_element_index(tmp_path):
    """``.json`` is not a line format: spans read from the file's start by element index."""
    arr = tmp_path / "a.json"
    arr.write_text(json.dumps([{"id": f"r{i}", "text": "t"} for i in range(23)], indent=2))
    gz = tmp_path / "b.json.gz"
    gz.write_bytes(
        gzip.compress(json.dumps([{"id": f"g{i}", "text": "t"} for i in range(9)]).encode())
    )
    lines = tmp_path / "c.json"  # a .json file of lines stays JSON Lines
    lines.write_text("".join(json.dumps({"id": f"l{i}", "text": "t"}) + "\n" for i in range(5)))
    paths = sorted(str(p) for p in (arr, gz, lines))
    assert not formats.is_line_format(str(arr), OPTS)
    whole = []
    for path in paths:
        with open(path, "rb") as fh:
            whole += [(path, *k) for k in kinds(list(read_file(fh, path, OPTS)))]
    assert len(whole) == 23 + 9 + 5
    for size in (1, 4, 10, 100):
        plan = plan_batches(paths, OPTS, size)
        got = []
        for batch in plan.batches:
            for span in batch:
                assert span.offset == 0
                with open(span.path, "rb") as fh:
                    got += [
                        (span.path, *k)
                        for k in kinds(list(read_file(fh, span.path, OPTS, span.window())))
                    ]
        assert got == whole, size
