"""Conversations through Normalize, DropExactDuplicates, DropNearDuplicates and Decontaminate
(tier b): turns rewritten in place, roles part of the keys, roles chosen by the recipe."""

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from thresher.config import ExactDedupConfig, NearDedupConfig, NormalizeConfig
from thresher.core.hashing import content_key, conversation_key
from thresher.records import Document, Turn, chat_document, render_turns, with_segment_texts
from thresher.stages.decontaminate import segments
from thresher.stages.exact_dedup import DropExactDuplicates
from thresher.stages.near_dedup import DropNearDuplicates, compared_text
from thresher.stages.normalize import Normalize


def pipeline():
    return BeamTestPipeline(options=PipelineOptions(["--runner=FnApiRunner"]))


def chat(rid, *turns, position=0, source="c.jsonl"):
    return chat_document(rid, source, position, tuple(Turn(r, c) for r, c in turns))


def test_segments_and_rewrites_keep_text_the_view_of_the_turns():
    c = chat("c", ("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello"))
    assert c.text == "Be brief.\n\nHi\n\nHello"
    assert [(s.turn, s.role) for s in c.segments(["user", "assistant"])] == [
        (1, "user"),
        (2, "assistant"),
    ]
    rewritten = with_segment_texts(c, ["S", "U", "A"], modifications=("x",))
    assert [t.content for t in rewritten.messages] == ["S", "U", "A"]
    assert rewritten.text == render_turns(rewritten.messages) == "S\n\nU\n\nA"
    d = Document("d", "text", "s", 0)
    assert [(s.turn, s.role, s.text) for s in d.segments()] == [(None, None, "text")]
    assert segments(c) == [("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello")]


@pytest.mark.parametrize(
    ("a", "b", "prompt_only", "same"),
    [
        (
            [("user", "Hi  there"), ("assistant", "Yo")],
            [("user", "Hi there"), ("assistant", "Yo")],
            False,
            True,
        ),
        (
            [("user", "Hi"), ("assistant", "Yo")],
            [("assistant", "Hi"), ("user", "Yo")],
            False,
            False,
        ),
        (
            [("user", "a b"), ("assistant", "c")],
            [("user", "a"), ("user", "b"), ("assistant", "c")],
            False,
            False,
        ),
        ([("user", "Q"), ("assistant", "A1")], [("user", "Q"), ("assistant", "A2")], False, False),
        ([("user", "Q"), ("assistant", "A1")], [("user", "Q"), ("assistant", "A2")], True, True),
        (
            [("system", "S"), ("user", "Q"), ("assistant", "A")],
            [("user", "Q"), ("assistant", "A")],
            True,
            False,
        ),
        ([("assistant", "A")], [("assistant", "B")], True, False),
    ],
)
def test_conversation_key(a, b, prompt_only, same):
    assert (conversation_key(a, prompt_only) == conversation_key(b, prompt_only)) is same


def test_a_conversation_never_has_a_documents_key():
    assert conversation_key([("user", "hello")]) != content_key("hello")
    assert conversation_key([("user", "hello")], True) != content_key("hello")


def test_normalize_rewrites_every_turn_and_keeps_empty_turns():
    c = chat("c", ("user", "Hello   there"), ("assistant", " \u200b "))
    clean = chat("k", ("user", "fine"), ("assistant", "ok"))
    empty = chat("e", ("user", " "), ("assistant", "\u200b"))
    with pipeline() as p:
        out = p | beam.Create([c, clean, empty]) | Normalize(NormalizeConfig())
        assert_that(
            out["main"]
            | "M"
            >> beam.Map(
                lambda d: (d.id, tuple(t.content for t in d.messages), d.text, d.modifications)
            ),
            equal_to(
                [
                    ("c", ("Hello there", ""), "Hello there\n\n", ("normalize",)),
                    ("k", ("fine", "ok"), "fine\n\nok", ()),
                ]
            ),
            label="main",
        )
        assert_that(
            out["fates"] | "F" >> beam.Map(lambda f: (f.id, f.reason)),
            equal_to([("e", "empty_after_normalize")]),
            label="fates",
        )


def test_exact_dedup_of_conversations_by_conversation_and_by_prompt():
    docs = [
        chat("a", ("user", "What is 2+2?"), ("assistant", "4"), position=0),
        chat("b", ("user", "What is  2+2?"), ("assistant", "4"), position=1),
        chat("c", ("user", "What is 2+2?"), ("assistant", "Four."), position=2),
        chat("d", ("assistant", "What is 2+2?"), ("user", "4"), position=3),
        Document("t", "What is 2+2?\n\n4", "c.jsonl", 4),
    ]
    for cfg, expected_kept, expected_fates in [
        (ExactDedupConfig(), ["a", "c", "d", "t"], [("b", "exact_duplicate", "a")]),
        (
            ExactDedupConfig(key="prompt"),
            ["a", "d", "t"],
            [("b", "same_prompt", "a"), ("c", "same_prompt", "a")],
        ),
    ]:
        with pipeline() as p:
            out = p | beam.Create(docs) | DropExactDuplicates(cfg)
            assert_that(
                out["main"] | "M" >> beam.Map(lambda d: d.id), equal_to(expected_kept), label="main"
            )
            assert_that(
                out["fates"] | "F" >> beam.Map(lambda f: (f.id, f.reason, f.duplicate_of)),
                equal_to(expected_fates),
                label="fates",
            )


def test_near_dedup_compares_the_roles_the_recipe_names():
    answer = " ".join(f"word{i}" for i in range(60))
    a = chat("a", ("user", "Tell me a long story about ducks please"), ("assistant", answer))
    b = chat(
        "b", ("user", "Write something entirely different, about rivers"), ("assistant", answer)
    )
    assert compared_text(a, None) == a.text
    assert compared_text(a, ("assistant",)) == answer
    for roles, kept in [
        (["system", "user", "assistant", "tool"], ["a", "b"]),
        (["assistant"], ["a"]),
    ]:
        with pipeline() as p:
            out = (
                p
                | beam.Create([a, b])
                | DropNearDuplicates(NearDedupConfig(roles=roles, keep="smallest_id"))
            )
            assert_that(out["main"] | "M" >> beam.Map(lambda d: d.id), equal_to(kept), label="main")
