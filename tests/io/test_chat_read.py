"""Reading conversations and instruction pairs (tier a, and one ReadCorpus pipeline, tier b):
every mapping, every validation reason with its own error type, messages that never quote
content, ids and meta as for text records, ``input.per_file`` selection."""

from __future__ import annotations

import io
import json

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from thresher.config import InputConfig
from thresher.errors import RecordError
from thresher.io.chat import ChatMapping, InstructionMapping
from thresher.io.formats import ReadOptions, read_file, to_document
from thresher.io.read import InputFile, ReadCorpus, read_options, resolve_inputs
from thresher.records import DeadLetter, Document, Turn, derived_id, render_turns

SECRET = "SECRET-CONTENT-NEVER-IN-MESSAGES"
CHAT = ReadOptions(record="chat", id_field="id")
SHAREGPT = ReadOptions(
    record="chat",
    chat=ChatMapping(
        messages_field="conversations",
        role_key="from",
        content_key="value",
        roles=(("gpt", "assistant"), ("human", "user")),
    ),
)
ALPACA = ReadOptions(record="instruction")


def read(objs: list, opts: ReadOptions, name: str = "c.jsonl") -> list:
    data = b"".join(json.dumps(o).encode() + b"\n" for o in objs)
    return list(read_file(io.BytesIO(data), name, opts))


def one(obj, opts: ReadOptions = CHAT):
    (item,) = read([obj], opts)
    return item


def turns(*pairs: tuple[str, str]) -> tuple[Turn, ...]:
    return tuple(Turn(r, c) for r, c in pairs)


def u(content: str = SECRET) -> dict:
    return {"role": "user", "content": content}


def a(content: str = SECRET) -> dict:
    return {"role": "assistant", "content": content}


# --- mappings ------------------------------------------------------------------------------------


def test_openai_messages_become_a_conversation_with_meta_and_source_id():
    obj = {
        "id": "c1",
        "lang": "en",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi?", "name": "dropped-turn-key"},
            {"role": "assistant", "content": "Hello."},
        ],
    }
    doc = one(obj)
    assert isinstance(doc, Document) and doc.is_chat
    assert doc.id == "c1" and doc.position == 0 and doc.meta == {"lang": "en"}
    assert doc.messages == turns(("system", "Be brief."), ("user", "Hi?"), ("assistant", "Hello."))
    assert doc.text == render_turns(doc.messages) == "Be brief.\n\nHi?\n\nHello."


def test_sharegpt_conversations_map_roles_and_canonical_names_map_to_themselves():
    obj = {
        "conversations": [
            {"from": "system", "value": "S"},
            {"from": "human", "value": "Q"},
            {"from": "gpt", "value": "A"},
            {"from": "user", "value": "Q2"},
            {"from": "assistant", "value": "A2"},
        ]
    }
    doc = one(obj, SHAREGPT)
    assert doc.messages == turns(
        ("system", "S"), ("user", "Q"), ("assistant", "A"), ("user", "Q2"), ("assistant", "A2")
    )
    assert doc.id == derived_id("c.jsonl", 0) and doc.meta == {}


def test_a_mapping_cannot_rename_a_canonical_role():
    opts = ReadOptions(record="chat", chat=ChatMapping(roles=(("user", "assistant"),)))
    assert one({"messages": [u("q"), a("r")]}, opts).messages == turns(
        ("user", "q"), ("assistant", "r")
    )


@pytest.mark.parametrize(
    ("obj", "opts", "expected", "meta"),
    [
        (  # Alpaca with input
            {"instruction": "Sum", "input": "1 2", "output": "3", "src": "x"},
            ALPACA,
            (("user", "Sum\n\n1 2"), ("assistant", "3")),
            {"src": "x"},
        ),
        (  # Alpaca with an empty input: the user turn is the instruction alone
            {"instruction": "Sum", "input": "  ", "output": "3"},
            ALPACA,
            (("user", "Sum"), ("assistant", "3")),
            {},
        ),
        (  # Alpaca without an input field, null input
            {"instruction": "Sum", "output": "3"},
            ALPACA,
            (("user", "Sum"), ("assistant", "3")),
            {},
        ),
        (
            {"instruction": "Sum", "input": None, "output": "3"},
            ALPACA,
            (("user", "Sum"), ("assistant", "3")),
            {},
        ),
        (  # prompt/completion via the two keys
            {"prompt": "P", "completion": "C", "n": 1},
            ReadOptions(
                record="instruction",
                instruction=InstructionMapping(
                    prompt_fields=("prompt",), response_field="completion"
                ),
            ),
            (("user", "P"), ("assistant", "C")),
            {"n": 1},
        ),
        (  # system_field
            {"sys": "Be kind.", "instruction": "I", "output": "O"},
            ReadOptions(record="instruction", instruction=InstructionMapping(system_field="sys")),
            (("system", "Be kind."), ("user", "I"), ("assistant", "O")),
            {},
        ),
        (  # an empty system field gives no system turn
            {"sys": "", "instruction": "I", "output": "O"},
            ReadOptions(record="instruction", instruction=InstructionMapping(system_field="sys")),
            (("user", "I"), ("assistant", "O")),
            {},
        ),
        (  # an empty response is a record: the chat filters drop it (empty_response)
            {"instruction": "I", "output": ""},
            ALPACA,
            (("user", "I"), ("assistant", "")),
            {},
        ),
    ],
)
def test_instruction_pairs(obj, opts, expected, meta):
    doc = one(obj, opts)
    assert isinstance(doc, Document)
    assert doc.messages == turns(*expected) and doc.meta == meta


def test_conversations_without_anything_to_train_on_are_read_as_records():
    """Not structural errors: the chat filters drop them (no_assistant_turn, empty_response)."""
    no_assistant = one({"messages": [u("q")]})
    empty = one({"messages": [u("q"), a("  ")]})
    assert isinstance(no_assistant, Document) and no_assistant.messages == turns(("user", "q"))
    assert isinstance(empty, Document) and empty.messages == turns(
        ("user", "q"), ("assistant", "  ")
    )


def test_ids_and_meta_fields_follow_the_text_rules():
    opts = ReadOptions(record="chat", id_field="id", require_id=True, meta_fields=("keep",))
    items = read(
        [
            {"id": 7, "keep": 1, "drop": 2, "messages": [u(), a()]},
            {"messages": [u(), a()]},
            {"id": "", "messages": [u(), a()]},
            {"id": [1], "messages": [u(), a()]},
        ],
        opts,
    )
    assert isinstance(items[0], Document) and items[0].id == "7" and items[0].meta == {"keep": 1}
    assert [i.error_type for i in items[1:]] == ["missing_id", "invalid_id", "invalid_id_type"]


def test_a_dead_letter_keeps_the_source_id():
    item = one({"id": "c9", "messages": []})
    assert isinstance(item, DeadLetter) and item.id == "c9"


# --- validation ----------------------------------------------------------------------------------

CHAT_CASES = [
    ({}, "missing_messages", "field 'messages' is missing"),
    ({"messages": None}, "missing_messages", "field 'messages' is null"),
    ({"messages": {"role": "user"}}, "invalid_messages_type", "is object, expected array"),
    ({"messages": SECRET}, "invalid_messages_type", "is str, expected array"),
    ({"messages": []}, "empty_messages", "empty array"),
    ({"messages": [u(), SECRET]}, "invalid_turn", "turn 1 is str, expected object"),
    ({"messages": [[u()]]}, "invalid_turn", "turn 0 is array"),
    ({"messages": [{"content": SECRET}]}, "missing_role", "turn 0 has no 'role'"),
    ({"messages": [u(), {"role": None, "content": "x"}]}, "missing_role", "turn 1"),
    ({"messages": [{"role": 3, "content": SECRET}]}, "invalid_role_type", "is int"),
    ({"messages": [u(), {"role": SECRET, "content": "x"}]}, "unknown_role", "at turn 1"),
    ({"messages": [{"role": "User", "content": "x"}]}, "unknown_role", "input.chat.roles"),
    ({"messages": [u(), {"role": "assistant"}]}, "missing_content", "turn 1 has no 'content'"),
    ({"messages": [{"role": "user", "content": None}]}, "null_content", "turn 0 'content' is null"),
    (
        {"messages": [{"role": "user", "content": [{"type": "text", "text": SECRET}]}]},
        "unsupported_content",
        "multimodal",
    ),
    ({"messages": [{"role": "user", "content": 5}]}, "invalid_content_type", "is int"),
    ({"messages": [{"role": "user", "content": {"t": SECRET}}]}, "invalid_content_type", "object"),
    (
        {"messages": [u(), {"role": "system", "content": SECRET}, a()]},
        "misplaced_system",
        "turn 1 is a system turn",
    ),
]


@pytest.mark.parametrize(("obj", "error_type", "says"), CHAT_CASES)
def test_chat_validation_reasons(obj, error_type, says):
    item = one(obj, ReadOptions(record="chat"))
    assert isinstance(item, DeadLetter)
    assert (item.error_type, item.stage, item.position) == (error_type, "read", 0)
    assert says in item.message
    assert SECRET not in item.message


def test_max_document_bytes_applies_to_the_turn_contents_together():
    """The line limit is on the raw record; the content limit on the turns (UTF-8 bytes)."""
    chat = {"messages": [u("é" * 30), a("y" * 40)]}  # 100 content bytes
    pair = {"instruction": "é" * 30, "output": "y" * 40}  # the same, as an instruction pair
    for obj, kind in ((chat, "chat"), (pair, "instruction")):
        doc = to_document(obj, "c.parquet", 0, ReadOptions(record=kind, max_document_bytes=100))
        assert doc.is_chat
        with pytest.raises(RecordError) as err:
            to_document(obj, "c.parquet", 0, ReadOptions(record=kind, max_document_bytes=99))
        assert err.value.error_type == "document_too_large"
        assert err.value.message == "turn contents are 100 bytes; input.max_document_bytes is 99"


def test_sharegpt_missing_field_names_the_lists_present():
    item = one({"conversations": [{"from": "human", "value": SECRET}]})
    assert item.error_type == "missing_messages"
    assert "list fields present: conversations" in item.message


def test_the_first_problem_in_turn_order_is_reported():
    item = one({"messages": [{"role": "user"}, {"role": "bot", "content": "x"}]})
    assert item.error_type == "missing_content" and "turn 0" in item.message


INSTRUCTION_CASES = [
    ({"output": SECRET}, "missing_prompt", "none of the prompt fields (instruction, input)"),
    ({"instruction": None, "output": SECRET}, "missing_prompt", "is present"),
    ({"instruction": ["x"], "output": "o"}, "invalid_prompt_type", "'instruction' is array"),
    ({"instruction": "i", "input": 3, "output": "o"}, "invalid_prompt_type", "'input' is int"),
    ({"instruction": " ", "input": "", "output": SECRET}, "empty_prompt", "all empty"),
    ({"instruction": SECRET}, "missing_response", "'output' is missing or null"),
    ({"instruction": SECRET, "output": None}, "missing_response", "input.instruction"),
    ({"instruction": "i", "output": {"a": SECRET}}, "invalid_response_type", "is object"),
    ({"instruction": "i", "output": "o", "sys": 1}, "invalid_system_type", "'sys' is int"),
]


@pytest.mark.parametrize(("obj", "error_type", "says"), INSTRUCTION_CASES)
def test_instruction_validation_reasons(obj, error_type, says):
    opts = ReadOptions(record="instruction", instruction=InstructionMapping(system_field="sys"))
    item = one(obj, opts)
    assert isinstance(item, DeadLetter)
    assert (item.error_type, item.position) == (error_type, 0)
    assert says in item.message and SECRET not in item.message


def test_text_records_with_a_messages_list_point_at_record_chat():
    item = one({"messages": [u(), a()]}, ReadOptions())
    assert item.error_type == "missing_text"
    assert "input.record: chat" in item.message and SECRET not in item.message


def test_chat_from_csv_and_parquet_columns(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "c.parquet"
    pq.write_table(
        pa.table({"messages": [[u("q"), a("r")], []], "k": [1, 2]}),
        path,
    )
    with open(path, "rb") as fh:
        items = list(read_file(fh, str(path), ReadOptions(record="chat")))
    assert items[0].messages == turns(("user", "q"), ("assistant", "r")) and items[0].meta == {
        "k": 1
    }
    assert items[1].error_type == "empty_messages"
    with open(path, "rb") as fh:  # no response column: every row is its own dead letter
        items = list(read_file(fh, str(path), ALPACA))
    assert [(i.position, i.error_type) for i in items] == [
        (0, "missing_response"),
        (1, "missing_response"),
    ]
    assert (
        items[0].message == "Parquet file has no column 'output' (input.instruction.response_field)"
    )
    csv = b"instruction,input,output\nSum,1 2,3\n"
    (doc,) = read_file(io.BytesIO(csv), "a.csv", ALPACA)
    assert doc.messages == turns(("user", "Sum\n\n1 2"), ("assistant", "3"))


# --- per_file -----------------------------------------------------------------------------------


def test_per_file_first_matching_entry_wins_and_falls_back_to_input_record():
    cfg = InputConfig(
        record="chat",
        chat={"messages_field": "msgs"},
        per_file=[
            {
                "match": "sharegpt/*.json",
                "record": "chat",
                "chat": {"role_key": "from", "roles": {"gpt": "assistant"}},
            },
            {"match": "sharegpt/*", "record": "text"},
            {"match": "*alpaca*", "record": "instruction", "instruction": {"prompt_fields": ["q"]}},
        ],
    )

    def opts(name: str) -> ReadOptions:
        return read_options(cfg, InputFile("/abs/root/" + name, 1, name))

    share = opts("sharegpt/a.json")
    assert share.record == "chat" and share.chat.role_key == "from"
    assert share.chat.messages_field == "messages"  # the entry's own mapping, defaults included
    assert share.chat.roles == (("gpt", "assistant"),)
    assert opts("sharegpt/a.jsonl").record == "text"
    assert opts("deep/dir/my_alpaca.json").instruction.prompt_fields == ("q",)
    other = opts("other.jsonl")
    assert other.record == "chat" and other.chat.messages_field == "msgs"
    assert read_options(cfg) == other  # no file: the input's own options
    # the glob sees the published name (relative to the input root), not the absolute path
    assert read_options(cfg, InputFile("/sharegpt/x.json", 1, "x.json")).record == "chat"
    assert read_options(cfg, InputFile("/sharegpt/x.json", 1, "x.json")).chat.role_key == "role"


# --- one pipeline ---------------------------------------------------------------------------------


def test_read_corpus_reads_each_file_with_its_record_kind(tmp_path):
    (tmp_path / "chat").mkdir()
    (tmp_path / "chat" / "o.jsonl").write_text(
        json.dumps({"id": "o1", "messages": [u("q"), a("r")]})
        + "\n"
        + json.dumps({"id": "o2", "messages": [u("q"), {"role": "bot", "content": "r"}]})
        + "\n"
    )
    (tmp_path / "alpaca.json").write_text(
        json.dumps(
            [
                {"id": "a1", "instruction": "i", "input": "", "output": "o"},
                {"id": "a2", "instruction": "", "output": "o"},
                {"id": "a3", "instruction": "i", "output": "o", "x": 1},
            ],
            indent=2,
        )
    )
    (tmp_path / "plain.jsonl").write_text(json.dumps({"id": "t1", "text": "words"}) + "\n")
    cfg = InputConfig(
        id_field="id",
        per_file=[
            {"match": "chat/*", "record": "chat"},
            {"match": "*.json", "record": "instruction"},
        ],
    )
    files = resolve_inputs([str(tmp_path)])
    with BeamTestPipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        out = p | ReadCorpus(files, cfg)
        assert_that(
            out["main"]
            | "M"
            >> beam.Map(
                lambda d: (
                    d.id,
                    d.position,
                    tuple((t.role, t.content) for t in d.messages),
                    d.text,
                    dict(d.meta),
                )
            ),
            equal_to(
                [
                    ("o1", 0, (("user", "q"), ("assistant", "r")), "q\n\nr", {}),
                    ("a1", 0, (("user", "i"), ("assistant", "o")), "i\n\no", {}),
                    ("a3", 2, (("user", "i"), ("assistant", "o")), "i\n\no", {"x": 1}),
                    ("t1", 0, (), "words", {}),
                ]
            ),
            label="main",
        )
        assert_that(
            out["dead_letter"] | "D" >> beam.Map(lambda d: (d.id, d.position, d.error_type)),
            equal_to([("o2", 1, "unknown_role"), ("a2", 1, "empty_prompt")]),
            label="dead",
        )


def test_read_corpus_spans_of_a_batched_run_use_the_files_own_options(tmp_path):
    (tmp_path / "chat").mkdir()
    path = tmp_path / "chat" / "dump.json"
    convs = [{"messages": [u(f"q{i}"), a(f"r{i}")]} for i in range(7)]
    path.write_text(json.dumps([*convs[:3], {"messages": "x"}, *convs[4:]]))
    cfg = InputConfig(per_file=[{"match": "chat/*", "record": "chat"}])
    files = resolve_inputs([str(tmp_path)])
    spans = [(str(path), 0, 3, 0), (str(path), 3, 5, 0), (str(path), 5, None, 0)]
    with BeamTestPipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        out = p | ReadCorpus(files, cfg, spans)
        assert_that(
            out["main"] | "M" >> beam.Map(lambda d: (d.position, d.messages[0].content)),
            equal_to([(i, f"q{i}") for i in (0, 1, 2, 4, 5, 6)]),
            label="main",
        )
        assert_that(
            out["dead_letter"] | "D" >> beam.Map(lambda d: (d.position, d.error_type)),
            equal_to([(3, "invalid_messages_type")]),
            label="dead",
        )
