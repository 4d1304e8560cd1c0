"""Parsing raw files into ``Document`` or ``DeadLetter`` records, without Beam.

Every parser takes an opened binary stream and yields, in file order, exactly one item per input
record: its parsed fields (``Row``) or a ``DeadLetter`` naming the source, the position and what
was wrong; ``read_file`` turns rows into ``Document`` records (``read_rows`` gives the rows, for
other record shapes such as benchmark files): documents, or conversations for
``record: chat | instruction`` (``thresher.io.chat``). A ``.json`` file holding a top-level
array is streamed element by element (``read_json``), never loaded whole.
Nothing is logged and nothing is skipped silently (blank lines of line-oriented formats are not
records). Decompression is done here, chunk by chunk, so that a truncated or corrupt stream is
seen and reported (Beam's own readers yield the broken tail as if it were a record).
Messages never quote the record's content.
"""

from __future__ import annotations

import bz2
import csv
import functools
import io
import itertools
import json
import re
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from thresher.errors import RecordError
from thresher.io.chat import (
    ChatMapping,
    InstructionMapping,
    chat_turns,
    instruction_turns,
    type_name,
)
from thresher.records import DeadLetter, Document, chat_document, derived_id

STAGE = "read"
_CHUNK = 1 << 20
_COMPRESSION_EXT = {
    ".gz": "gzip",
    ".gzip": "gzip",
    ".bz2": "bzip2",
    ".zst": "zstd",
    ".zstd": "zstd",
}
_FORMAT_EXT = {
    ".jsonl": "jsonl",
    ".json": "json",  # a JSON array of records, else JSON Lines: decided by the first byte
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
}


@dataclass(frozen=True)
class ReadOptions:
    """What the readers need from ``input.*`` (kept free of pydantic so workers stay light)."""

    format: str = "auto"
    compression: str = "auto"
    text_field: str = "text"
    id_field: str | None = None
    require_id: bool = False
    meta_fields: tuple[str, ...] | None = None
    text_mode: str = "file"
    max_document_bytes: int = 10 * 1024 * 1024
    record: str = "text"  # text | chat | instruction (``input.record``, resolved per file)
    chat: ChatMapping = field(default_factory=ChatMapping)
    instruction: InstructionMapping = field(default_factory=InstructionMapping)


@dataclass(frozen=True)
class Window:
    """Which positions of a file to yield: ``[start, stop)`` (``stop`` None: to the end).

    ``base`` is the position of the stream's first line when the caller has seeked an
    uncompressed line-format file to a known line start (batched runs); positions, and so
    derived ids, stay those of a whole-file read. Parsers skip positions before ``start``
    without building records and stop reading at ``stop``. File-level dead letters (position
    -1) come with the window that starts the file. The default window is the whole file.
    """

    start: int = 0
    stop: int | None = None
    base: int = 0

    def before(self, pos: int) -> bool:
        return pos < self.start

    def after(self, pos: int) -> bool:
        return self.stop is not None and pos >= self.stop


WHOLE = Window()


def _suffixes(path: str) -> list[str]:
    name = path.rstrip("/").rsplit("/", 1)[-1].lower()
    parts = name.split(".")
    return ["." + p for p in parts[1:]]


def detect_compression(path: str, configured: str = "auto") -> str:
    if configured != "auto":
        return configured
    sfx = _suffixes(path)
    return _COMPRESSION_EXT.get(sfx[-1], "none") if sfx else "none"


def detect_format(path: str, configured: str = "auto") -> str:
    """``jsonl``/``json``/``parquet``/``csv``/``tsv`` by extension (after a compression
    suffix), else ``text``. ``json`` (``.json``) is a JSON array of records when the file's
    first byte (after whitespace and a BOM) is ``[``, else JSON Lines (``read_json``)."""
    if configured != "auto":
        return configured
    sfx = _suffixes(path)
    if sfx and sfx[-1] in _COMPRESSION_EXT:
        sfx = sfx[:-1]
    return _FORMAT_EXT.get(sfx[-1], "text") if sfx else "text"


class TruncatedInput(Exception):
    """The compressed stream ended before its end-of-stream marker."""


class CorruptInput(Exception):
    """The compressed stream holds bytes its codec rejects."""


def _new_decompressor(kind: str) -> Any:
    if kind == "gzip":
        return zlib.decompressobj(wbits=31)
    if kind == "bzip2":
        return bz2.BZ2Decompressor()
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj()
    raise ValueError(kind)


def iter_chunks(raw: IO[bytes], compression: str) -> Iterator[bytes]:
    """Decompressed chunks of ``raw``. Concatenated members (``cat a.gz b.gz``) are read in turn.

    Raises ``TruncatedInput`` when the last member has no end marker and ``CorruptInput`` when
    the codec rejects the data, after yielding everything decoded before the break.
    """
    if compression == "none":
        while chunk := raw.read(_CHUNK):
            yield chunk
        return
    dec = _new_decompressor(compression)
    started = False
    while True:
        chunk = raw.read(_CHUNK)
        if not chunk:
            break
        while chunk:
            started = True
            try:
                out = dec.decompress(chunk)
            except Exception as exc:  # zlib.error, OSError, zstd.ZstdError: all mean corrupt
                raise CorruptInput(type(exc).__name__) from exc
            if out:
                yield out
            if dec.eof:
                chunk = dec.unused_data
                if chunk.strip(b"\x00"):
                    dec = _new_decompressor(compression)
                    started = False
                else:
                    chunk = b""
                    started = False
            else:
                chunk = b""
    if started and not dec.eof:
        raise TruncatedInput()


class _ChunkStream(io.RawIOBase):
    """A readable file over ``iter_chunks``, for parsers that need a file object (csv)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            nxt = next(self._chunks, None)
            if nxt is None:
                return 0
            self._buf = nxt
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def iter_lines(chunks: Iterator[bytes], max_bytes: int) -> Iterator[tuple[bytes | None, int]]:
    """Lines (without the newline) and their byte length; ``None`` for a line over ``max_bytes``.

    Memory stays bounded by ``max_bytes`` plus one chunk whatever the line lengths.
    """
    buf = bytearray()
    oversize = 0  # >0: inside an over-long line, counting its bytes
    for chunk in chunks:
        start = 0
        while True:
            nl = chunk.find(b"\n", start)
            piece = chunk[start:] if nl < 0 else chunk[start:nl]
            if oversize:
                oversize += len(piece)
            else:
                buf += piece
                if len(buf) > max_bytes:
                    oversize = len(buf)
                    buf = bytearray()
            if nl < 0:
                break
            if oversize:
                yield None, oversize
                oversize = 0
            else:
                yield bytes(buf), len(buf)
                buf = bytearray()
            start = nl + 1
    if oversize:
        yield None, oversize
    elif buf:
        yield bytes(buf), len(buf)


def _decode(data: bytes, first: bool) -> str:
    if first and data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(
            "invalid_utf8", f"invalid UTF-8 at byte offset {exc.start} of the record"
        ) from None


_CHAT_FIELDS = ("messages", "conversations", "conversation")


def _hint(obj: Mapping[str, Any]) -> str:
    """A likely fix for a record without the text field, from its field *names* only (never
    values): the string fields it has, or that it looks like chat data."""
    chat = [k for k in _CHAT_FIELDS if isinstance(obj.get(k), list)]
    if chat:
        return (
            f"; the record has a '{chat[0]}' list: it looks like chat data, read it with "
            f"input.record: chat (input.chat.messages_field: {chat[0]})"
        )
    names = sorted(k for k, v in obj.items() if isinstance(k, str) and isinstance(v, str))
    shown = [n[:40] for n in names[:5]]
    return f"; string fields present: {', '.join(shown)}" if shown else ""


def _text(obj: Mapping[str, Any], opts: ReadOptions) -> str:
    tf = opts.text_field
    if tf not in obj:
        raise RecordError(
            "missing_text", f"field '{tf}' is missing (input.text_field)" + _hint(obj)
        )
    text = obj[tf]
    if text is None:
        raise RecordError("null_text", f"field '{tf}' is null")
    if not isinstance(text, str):
        raise RecordError(
            "invalid_text_type", f"field '{tf}' is {type_name(text)}, expected string"
        )
    if not text.strip():
        raise RecordError("empty_text", f"field '{tf}' is empty")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > opts.max_document_bytes:
        raise RecordError(
            "document_too_large",
            f"text is {size} bytes; input.max_document_bytes is {opts.max_document_bytes}",
        )
    return text


def _record_id(obj: Mapping[str, Any], source: str, position: int, opts: ReadOptions) -> str:
    raw_id = obj.get(opts.id_field) if opts.id_field is not None else None
    if raw_id is None:
        if opts.id_field is not None and opts.require_id:
            raise RecordError("missing_id", f"id field '{opts.id_field}' is missing or null")
        return derived_id(source, position)
    if raw_id == "":
        raise RecordError("invalid_id", f"id field '{opts.id_field}' is an empty string")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
        raise RecordError(
            "invalid_id_type",
            f"id field '{opts.id_field}' is {type_name(raw_id)}, expected string or integer",
        )
    return str(raw_id)


def _meta(obj: Mapping[str, Any], skip: set[str | None], opts: ReadOptions) -> dict[str, Any]:
    if opts.meta_fields is None:
        return {k: v for k, v in obj.items() if k not in skip}
    return {k: obj[k] for k in opts.meta_fields if k in obj and k not in skip}


def to_document(obj: Mapping[str, Any], source: str, position: int, opts: ReadOptions) -> Document:
    """Map one parsed record to a ``Document`` (a conversation for ``record: chat`` and
    ``record: instruction``, see ``thresher.io.chat``); raise ``RecordError`` on a bad record.
    ``meta`` holds the record's other fields: not the text / messages / instruction fields,
    not the id field."""
    if opts.record == "chat":
        turns = chat_turns(obj, opts.chat, opts.max_document_bytes)
        rid = _record_id(obj, source, position, opts)
        meta = _meta(obj, {opts.chat.messages_field, opts.id_field}, opts)
        return chat_document(rid, source, position, turns, meta)
    if opts.record == "instruction":
        turns = instruction_turns(obj, opts.instruction, opts.max_document_bytes)
        rid = _record_id(obj, source, position, opts)
        meta = _meta(obj, {*opts.instruction.fields(), opts.id_field}, opts)
        return chat_document(rid, source, position, turns, meta)
    text = _text(obj, opts)
    rid = _record_id(obj, source, position, opts)
    meta = _meta(obj, {opts.text_field, opts.id_field}, opts)
    return Document(id=rid, text=text, source=source, position=position, meta=meta)


Item = Document | DeadLetter


@dataclass(frozen=True)
class Row:
    """One parsed record before it becomes a ``Document``: its position and its fields."""

    position: int
    fields: Mapping[str, Any]


RowItem = Row | DeadLetter


_ID_ERRORS = frozenset({"missing_id", "invalid_id", "invalid_id_type"})


def readable_id(obj: Mapping[str, Any], opts: ReadOptions) -> str | None:
    """The record's own id when ``input.id_field`` holds a usable one (a non-empty string or an
    integer), else None: a dead letter keeps the user's id wherever it can."""
    if opts.id_field is None:
        return None
    raw = obj.get(opts.id_field)
    if isinstance(raw, bool) or raw == "" or not isinstance(raw, str | int):
        return None
    return str(raw)


def _dead(
    source: str, position: int, error_type: str, message: str, record_id: str | None = None
) -> DeadLetter:
    return DeadLetter(
        id=record_id or derived_id(source, position),
        source=source,
        position=position,
        stage=STAGE,
        error_type=error_type,
        message=message,
    )


def _record_or_dead(
    make: Callable[..., Mapping[str, Any]],
    args: tuple[Any, ...],
    source: str,
    pos: int,
    opts: ReadOptions,
) -> RowItem:
    try:
        return Row(pos, make(*args))
    except RecordError as err:
        return _dead(source, pos, err.error_type, err.message)


def _parse_json_line(line: bytes, first: bool) -> Mapping[str, Any]:
    text = _decode(line, first)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(
            "invalid_json", f"not valid JSON ({exc.msg}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise RecordError("invalid_json", "JSON nested too deeply") from None
    if not isinstance(obj, dict):
        raise RecordError("invalid_record", f"JSON value is {type_name(obj)}, expected object")
    return obj


def _text_record(field: str, data: bytes, first: bool) -> dict[str, str]:
    return {field: _decode(data.rstrip(b"\r"), first)}


def _csv_record(header: list[str], row: list[str]) -> dict[str, str]:
    return dict(zip(header, row, strict=True))


def _read_lines(
    chunks: Iterator[bytes],
    source: str,
    opts: ReadOptions,
    window: Window,
    parse: Callable[[bytes, bool], Mapping[str, Any]],
) -> Iterator[RowItem]:
    """One record per line (positions are line numbers; blank lines are not records)."""
    for pos, (line, size) in enumerate(iter_lines(chunks, opts.max_document_bytes), window.base):
        if window.before(pos):
            continue
        if window.after(pos):
            return
        if line is None:
            yield _dead(
                source,
                pos,
                "document_too_large",
                f"line is {size} bytes; input.max_document_bytes is {opts.max_document_bytes}",
            )
            continue
        if not line.strip() or (pos == 0 and line.strip() == b"\xef\xbb\xbf"):
            continue  # blank lines are not records
        yield _record_or_dead(parse, (line, pos == 0), source, pos, opts)


def read_jsonl(
    chunks: Iterator[bytes], source: str, opts: ReadOptions, window: Window = WHOLE
) -> Iterator[RowItem]:
    return _read_lines(chunks, source, opts, window, _parse_json_line)


def read_text_lines(
    chunks: Iterator[bytes], source: str, opts: ReadOptions, window: Window = WHOLE
) -> Iterator[RowItem]:
    return _read_lines(
        chunks, source, opts, window, functools.partial(_text_record, opts.text_field)
    )


_BOM = b"\xef\xbb\xbf"
_WS = b" \t\r\n"
# A string's body (unrolled: no backtracking), then its closing quote, or the end of the chunk
# (a trailing backslash: the escaped byte is in the next chunk). Outside strings only a quote
# and the structural bytes matter. UTF-8 multi-byte sequences never contain ASCII bytes, so
# scanning bytes is safe.
_BODY = rb'[^"\\]*(?:\\.[^"\\]*)*'
_END = rb'(?:(")|(\\)?\Z)'  # group 1: closed; group 2: an escape pending
_STRING_REST = re.compile(_BODY + _END, re.S)
_TOKEN = re.compile(rb'"' + _BODY + _END + rb"|[\[\]{},]", re.S)


@dataclass(frozen=True)
class _Slot:
    """One element of a JSON array as the scanner cut it: ``data`` None when it was over the
    size limit (``size`` bytes); ``kind`` ``element``, ``unterminated`` (the file ends inside
    the array) or ``trailing`` (data after the array's end)."""

    kind: str
    index: int
    offset: int
    data: bytes | None
    size: int


class _ArrayScanner:
    """Cuts the bytes after a JSON array's ``[`` into its top-level elements, chunk by chunk,
    without parsing them: it tracks only string/escape state and bracket depth, so an element
    is its bytes up to the next ``,`` or ``]`` at depth 0. Holds at most one element (and
    nothing of one over ``max_bytes``), whatever the file size. A malformed element whose
    strings and brackets balance costs only itself; one that does not swallows what follows
    (the file then ends inside the array: one ``unterminated`` slot)."""

    def __init__(self, offset: int, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.buf = bytearray()
        self.size = 0
        self.start = offset  # byte offset of the current element
        self.depth = 0
        self.in_str = False
        self.esc = False
        self.index = 0
        self.closed = False
        self.done = False  # trailing data seen: nothing more to read

    def _take(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size <= self.max_bytes:
            self.buf += piece
        elif self.buf:
            self.buf = bytearray()

    def _cut(self, end_of_array: bool, at: int) -> _Slot | None:
        """The element just ended by a separator; the next starts at ``at``."""
        data = None if self.size > self.max_bytes else bytes(self.buf)
        slot = None
        # `[]` and a trailing comma hold no element; an empty one between commas is a record
        if not (end_of_array and data is not None and not data.strip(_WS)):
            slot = _Slot("element", self.index, self.start, data, self.size)
            self.index += 1
        self.buf, self.size, self.start = bytearray(), 0, at
        self.closed = end_of_array
        return slot

    def _string_end(self, m: re.Match[bytes]) -> int:
        """After a string, or the part of one, that ``m`` matched: still inside it when the
        chunk ended first, with an escape pending after a trailing backslash."""
        self.in_str = m.group(1) is None
        self.esc = m.group(2) is not None
        return m.end()

    def _step(self, chunk: bytes, pos: int) -> tuple[int, int | None]:
        """Advance from ``pos``; returns the new position and, at a depth-0 separator, its
        index in ``chunk``."""
        if self.esc:
            self.esc = False
            return pos + 1, None
        if self.in_str:
            # always matches: a string body stops only at a quote or the chunk's end
            m = _STRING_REST.match(chunk, pos)
            return (len(chunk) if m is None else self._string_end(m)), None
        m = _TOKEN.search(chunk, pos)
        if m is None:
            return len(chunk), None
        c = m.group()
        if c[:1] == b'"':
            return self._string_end(m), None
        if c in b"[{":
            self.depth += 1
        elif self.depth > 0:
            if c != b",":
                self.depth -= 1
        elif c != b"}":  # `,` or `]` at depth 0 ends the element
            return m.end(), m.start()
        return m.end(), None  # (a `}` at depth 0 is part of a malformed element)

    def feed(self, chunk: bytes, at: int) -> Iterator[_Slot]:
        """The slots completed by ``chunk``, which starts at byte offset ``at``."""
        pos = seg = 0
        while pos < len(chunk) and not self.closed:
            pos, sep = self._step(chunk, pos)
            if sep is not None:
                self._take(chunk[seg:sep])
                seg = pos
                slot = self._cut(chunk[sep] == ord("]"), at + pos)
                if slot is not None:
                    yield slot
        if not self.closed:
            self._take(chunk[seg:])
            return
        rest = chunk[pos:].lstrip(_WS)
        if rest and not self.done:
            self.done = True
            yield _Slot("trailing", self.index, at + len(chunk) - len(rest), None, 0)

    def finish(self) -> Iterator[_Slot]:
        """At the end of the stream: one ``unterminated`` slot if the array is still open."""
        if not self.closed:
            yield _Slot("unterminated", self.index, self.start, None, self.size)


def _peek(chunks: Iterator[bytes], limit: int) -> tuple[bytes, Iterator[bytes]]:
    """The stream's first bytes up to and including its first non-whitespace byte (after a
    BOM), and the whole stream again. Gives up after ``limit`` bytes of whitespace."""
    head = b""
    for chunk in chunks:
        head += chunk
        body = head[3:] if head.startswith(_BOM) else head
        if (len(head) >= 3 or not _BOM.startswith(head)) and body.lstrip(_WS):
            break
        if len(head) > limit:
            break
    return head, itertools.chain([head], chunks)


def _array_start(head: bytes) -> int | None:
    """Offset just after the ``[`` that opens a top-level array, or None (not an array)."""
    body = head[3:] if head.startswith(_BOM) else head
    stripped = body.lstrip(_WS)
    if not stripped.startswith(b"["):
        return None
    return len(head) - len(stripped) + 1


def _parse_element(data: bytes, index: int) -> Mapping[str, Any]:
    text = _decode(data, False)
    if not text.strip(" \t\r\n"):
        raise RecordError("invalid_json", f"array element {index} is empty")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(
            "invalid_json", f"array element {index} is not valid JSON ({exc.msg}, char {exc.pos})"
        ) from None
    except RecursionError:
        raise RecordError("invalid_json", f"array element {index} is nested too deeply") from None
    if not isinstance(obj, dict):
        raise RecordError(
            "invalid_record", f"array element {index} is {type_name(obj)}, expected object"
        )
    return obj


def _slot_item(slot: _Slot, source: str, opts: ReadOptions) -> RowItem:
    i = slot.index
    if slot.kind == "trailing":
        return _dead(
            source,
            i,
            "trailing_data",
            f"data after the end of the JSON array at byte {slot.offset}",
        )
    if slot.kind == "unterminated":
        return _dead(
            source,
            i,
            "unterminated_array",
            f"the file ends inside the JSON array: element {i} (from byte {slot.offset}, "
            f"{slot.size} bytes to the end) is not closed; a truncated file, or a malformed "
            "element whose strings or brackets do not balance",
        )
    if slot.data is None:
        return _dead(
            source,
            i,
            "document_too_large",
            f"array element {i} is {slot.size} bytes; input.max_document_bytes is "
            f"{opts.max_document_bytes}",
        )
    return _record_or_dead(_parse_element, (slot.data, i), source, i, opts)


def read_json(
    chunks: Iterator[bytes], source: str, opts: ReadOptions, window: Window = WHOLE
) -> Iterator[RowItem]:
    """A ``.json`` file: a top-level array of records (Alpaca, ShareGPT dumps), streamed,
    positions = element indexes; anything else (an object per line) is JSON Lines.

    Memory stays about ``max_document_bytes`` plus one chunk whatever the array's size. Each
    element is one record: a malformed one is a dead letter and reading goes on after it; a
    file that ends inside the array ends with one ``unterminated_array`` dead letter, data
    after the array with one ``trailing_data`` dead letter. ``[]`` holds no record; a trailing
    comma before ``]`` is tolerated.
    """
    head, stream = _peek(chunks, opts.max_document_bytes)
    begin = _array_start(head)
    if begin is None:
        yield from read_jsonl(stream, source, opts, window)
        return
    scanner = _ArrayScanner(begin, opts.max_document_bytes)
    slots = itertools.chain(_feed_all(scanner, head[begin:], begin, chunks), scanner.finish())
    for slot in slots:
        if window.before(slot.index):
            continue
        if window.after(slot.index):
            return
        yield _slot_item(slot, source, opts)


def _feed_all(
    scanner: _ArrayScanner, first: bytes, at: int, chunks: Iterator[bytes]
) -> Iterator[_Slot]:
    """Every slot of the stream. After the array's end the stream is still read (whitespace
    only, else one ``trailing`` slot ends it), so a truncated compressed stream is seen."""
    yield from scanner.feed(first, at)
    at += len(first)
    for chunk in chunks:
        if scanner.done:
            return
        yield from scanner.feed(chunk, at)
        at += len(chunk)


def read_text_file(chunks: Iterator[bytes], source: str, opts: ReadOptions) -> Iterator[RowItem]:
    buf = bytearray()
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total <= opts.max_document_bytes:
            buf += chunk
    if total == 0:
        return  # an empty file holds no record
    if total > opts.max_document_bytes:
        yield _dead(
            source,
            0,
            "document_too_large",
            f"file is {total} bytes; input.max_document_bytes is {opts.max_document_bytes}",
        )
        return
    yield _record_or_dead(_text_record, (opts.text_field, bytes(buf), True), source, 0, opts)


def _has_surrogates(value: str) -> bool:
    return any("\udc80" <= c <= "\udcff" for c in value)


def read_csv(
    chunks: Iterator[bytes],
    source: str,
    opts: ReadOptions,
    delimiter: str = ",",
    window: Window = WHOLE,
) -> Iterator[RowItem]:
    text = io.TextIOWrapper(
        io.BufferedReader(_ChunkStream(chunks)),
        encoding="utf-8-sig",
        errors="surrogateescape",
        newline="",
    )
    csv.field_size_limit(max(opts.max_document_bytes + 1, 131072))
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error:
        yield _dead(source, -1, "invalid_csv", "the header row cannot be parsed")
        return
    if any(_has_surrogates(h) for h in header):
        yield _dead(source, -1, "invalid_utf8", "the header row is not valid UTF-8")
        return
    pos = 0
    while True:
        if window.after(pos):
            return
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if window.before(pos):
                pos += 1
                continue
            kind = "document_too_large" if "field larger" in str(exc) else "invalid_csv"
            msg = (
                f"a field exceeds input.max_document_bytes ({opts.max_document_bytes})"
                if kind == "document_too_large"
                else f"row cannot be parsed ({type(exc).__name__})"
            )
            yield _dead(source, pos, kind, msg)
            pos += 1
            continue
        this = pos
        pos += 1
        if window.before(this) or not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != len(header):
            yield _dead(
                source,
                this,
                "csv_field_count",
                f"row has {len(row)} fields, header has {len(header)}",
            )
            continue
        if any(_has_surrogates(v) for v in row):
            yield _dead(source, this, "invalid_utf8", "row is not valid UTF-8")
            continue
        yield _record_or_dead(_csv_record, (header, row), source, this, opts)


def _required_column(opts: ReadOptions) -> tuple[str, str, str]:
    """The column every record of the kind needs, its recipe key, and the error without it."""
    if opts.record == "chat":
        return opts.chat.messages_field, "input.chat.messages_field", "missing_messages"
    if opts.record == "instruction":
        return (
            opts.instruction.response_field,
            "input.instruction.response_field",
            ("missing_response"),
        )
    return opts.text_field, "input.text_field", "missing_text"


def read_parquet(
    raw: IO[bytes], source: str, opts: ReadOptions, window: Window = WHOLE
) -> Iterator[RowItem]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(raw)
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for non-Parquet bytes
        yield _dead(
            source, -1, "invalid_parquet", f"not a readable Parquet file ({type(exc).__name__})"
        )
        return
    column, key, error_type = _required_column(opts)
    if column not in pf.schema_arrow.names:
        # Every row is still an input record: each gets its own dead letter, so the books balance.
        msg = f"Parquet file has no column '{column}' ({key})"
        stop = pf.metadata.num_rows if window.stop is None else window.stop
        for pos in range(window.start, min(stop, pf.metadata.num_rows)):
            yield _dead(source, pos, error_type, msg)
        return
    pos = 0
    for batch in pf.iter_batches(batch_size=1024):
        if window.after(pos):
            return
        if window.before(pos + batch.num_rows - 1):  # wholly before the window: not decoded
            pos += batch.num_rows
            continue
        for row in batch.to_pylist():
            if not window.before(pos) and not window.after(pos):
                yield _record_or_dead(dict, (row,), source, pos, opts)
            pos += 1


def is_line_format(source: str, opts: ReadOptions) -> bool:
    """Whether a file's positions are its lines (JSONL, or text read one record per line), so
    that batched runs may cut it at line offsets. A ``.json`` file is not: it may be a JSON
    array, whose positions are element indexes (its spans are read from the file's start)."""
    fmt = detect_format(source, opts.format)
    return fmt == "jsonl" or (fmt == "text" and opts.text_mode == "line")


def read_file(
    raw: IO[bytes], source: str, opts: ReadOptions, window: Window = WHOLE
) -> Iterator[Item]:
    """Every record of one opened file in ``window`` (default: all), in order, as a
    ``Document``; problems become ``DeadLetter`` items (see ``read_rows``)."""
    for item in read_rows(raw, source, opts, window):
        if isinstance(item, Row):
            try:
                yield to_document(item.fields, source, item.position, opts)
            except RecordError as err:
                # a dead letter keeps the source's id where it was readable
                own = None if err.error_type in _ID_ERRORS else readable_id(item.fields, opts)
                yield _dead(source, item.position, err.error_type, err.message, own)
        else:
            yield item


def read_rows(
    raw: IO[bytes], source: str, opts: ReadOptions, window: Window = WHOLE
) -> Iterator[RowItem]:
    """Every record of one opened file in ``window`` (default: all), in order, as parsed
    fields (``Row``); problems become ``DeadLetter`` items. For readers of other record shapes
    (benchmark files) too.

    A truncated or corrupt compressed stream ends the file with one dead letter at the position
    after the last complete record; everything before it is yielded.
    """
    fmt = detect_format(source, opts.format)
    comp = detect_compression(source, opts.compression)
    if fmt == "parquet":
        if comp != "none":
            data = b"".join(iter_chunks(raw, comp))
            raw = io.BytesIO(data)
        yield from read_parquet(raw, source, opts, window)
        return
    chunks = iter_chunks(raw, comp)
    if fmt == "jsonl":
        parser = read_jsonl(chunks, source, opts, window)
    elif fmt == "json":
        parser = read_json(chunks, source, opts, window)
    elif fmt in ("csv", "tsv"):
        parser = read_csv(chunks, source, opts, "\t" if fmt == "tsv" else ",", window)
    elif opts.text_mode == "line":
        parser = read_text_lines(chunks, source, opts, window)
    else:
        parser = read_text_file(chunks, source, opts)
    last = window.start - 1
    try:
        for item in parser:
            last = max(last, item.position)
            yield item
    except TruncatedInput:
        yield _dead(
            source,
            last + 1,
            "truncated_input",
            f"{comp} stream ended before its end marker; records before position {last + 1} "
            "were read",
        )
    except CorruptInput as exc:
        yield _dead(
            source, last + 1, "corrupt_input", f"{comp} decoder rejected the data ({exc.args[0]})"
        )
