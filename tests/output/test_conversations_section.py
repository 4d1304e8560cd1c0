"""The manifest's ``conversations`` section and report.html's Conversations section.

The statistics are computed inside a real Beam pipeline (``ProfileConversations``) and summed
with the run's stats; the section is checked against the published Parquet of a real run."""

from __future__ import annotations

import json
from collections import Counter

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tests.conftest import load_manifest, read_parquet_dir
from thresher.config import load_config
from thresher.core import statkeys
from thresher.core.profile import size_bucket
from thresher.records import Document, Fate, Turn, chat_document
from thresher.report import render
from thresher.run import execute
from thresher.stages import chat_profile

CHAT = chat_document(
    "c1",
    "in.jsonl",
    0,
    (
        Turn("system", "be brief"),
        Turn("user", "where is it?"),
        Turn("assistant", "here"),
        Turn("user", "and now?"),
        Turn("assistant", "it moved to the park over there"),
    ),
)
DOC = Document(id="d1", text="a plain document", source="in.jsonl", position=1)


@pytest.mark.parametrize(
    ("n", "bucket"), [(0, "000000001"), (1, "000000002"), (3, "000000004"), (4, "000000008")]
)
def test_count_buckets_are_upper_edges(n, bucket):
    assert chat_profile.count_bucket(n) == bucket


def test_a_conversation_counts_turns_and_response_words_a_document_nothing():
    stats = Counter(dict(chat_profile.conversation_stats(CHAT, "input")))
    assert stats == {
        "conversations.input": 1,
        "hist.chat.turns.input.000005": 1,
        "hist.chat.response_words.input.000000002": 1,  # "here": 1 word
        "hist.chat.response_words.input.000000008": 1,  # 7 words
    }
    assert list(chat_profile.conversation_stats(DOC, "input")) == []


def test_token_signals_are_histogrammed_when_the_length_stage_set_them():
    doc = Document(
        id="c2",
        text=CHAT.text,
        source="in.jsonl",
        position=2,
        messages=CHAT.messages,
        signals={"tokens": 40.0, "tokens_assistant": 9.0},
    )
    stats = dict(chat_profile.conversation_stats(doc, "kept"))
    assert stats["hist.chat.tokens.kept.000000064"] == 1
    assert stats["hist.chat.assistant_tokens.kept.000000016"] == 1


@pytest.mark.parametrize(
    ("fate", "expected"),
    [
        (
            Fate(
                "c1",
                "s",
                0,
                "dropped",
                "filter_quality",
                "refusal",
                details={"turn": 2, "role": "assistant"},
            ),
            [("chat_dropped.refusal.assistant", 1)],
        ),
        (
            Fate(
                "c1", "s", 0, "dropped", "filter_quality", "max_turns", details={"rule_set": "chat"}
            ),
            [("chat_dropped.max_turns.conversation", 1)],
        ),
        # a document's drop, a duplicate, a kept record: not a conversation drop
        (Fate("d1", "s", 1, "dropped", "filter_quality", "c4", details={"rule_set": "c4"}), []),
        (Fate("d1", "s", 1, "duplicate", "exact_dedup", "exact", details={"role": "user"}), []),
        (Fate("d1", "s", 1, "kept", "write"), []),
    ],
)
def test_drops_by_rule_per_role(fate, expected):
    assert list(chat_profile.drop_stats(fate)) == expected


def test_profile_conversations_in_a_pipeline():
    drop = Fate(
        "c9", "s", 9, "dropped", "f", "empty_response", details={"turn": 1, "role": "assistant"}
    )
    with BeamTestPipeline() as p:
        read = p | "Read" >> beam.Create([CHAT, DOC])
        kept = p | "Kept" >> beam.Create([DOC])
        lineage = p | "Lineage" >> beam.Create([drop])
        out = (read, kept, lineage) | chat_profile.ProfileConversations()
        assert_that(
            out,
            equal_to(
                [
                    ("conversations.input", 1),
                    ("hist.chat.turns.input.000005", 1),
                    ("hist.chat.response_words.input.000000002", 1),
                    ("hist.chat.response_words.input.000000008", 1),
                    ("chat_dropped.empty_response.assistant", 1),
                ]
            ),
        )


def test_new_keys_parse_back_and_other_keys_do_not():
    assert statkeys.parse(statkeys.chat("turns", "kept", "000003")) == statkeys.StatKey(
        "chat", "turns", "000003", "kept"
    )
    assert statkeys.parse(statkeys.conversations("input")) == statkeys.StatKey(
        "conversations", "input"
    )
    assert statkeys.parse(statkeys.chat_dropped("refusal", "assistant")) == statkeys.StatKey(
        "chat_drop", "refusal", "assistant"
    )
    for key in (
        "hist.chat.unknown.kept.1",
        "hist.chat.turns.kept",
        "conversations.",
        "chat_dropped.x",
    ):
        assert statkeys.parse(key) is None


def test_no_section_without_conversations():
    assert chat_profile.section({"hist.chars.input.000000128": 4}) is None


# --- a real run -------------------------------------------------------------------------------


def _chat_line(i: int, turns: int) -> dict:
    messages = []
    for t in range(turns):
        messages.append({"role": "user", "content": f"question {i} part {t} about topic {i}?"})
        answer = " ".join(["word"] * (1 + (i * 3 + t) % 9)) + f" answer {i}"
        messages.append({"role": "assistant", "content": answer})
    return {"text": "-", "messages": messages, "author": f"u{i % 3}"}


@pytest.fixture(scope="module")
def chat_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("conv")
    (d / "in").mkdir()
    lines = [_chat_line(i, 1 + i % 3) for i in range(10)]
    lines.append(dict(lines[4]))  # an exact duplicate conversation
    (d / "in" / "chat.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    docs = [{"text": f"plain document number {i} with a few words"} for i in range(3)]
    (d / "in" / "docs.jsonl").write_text("".join(json.dumps(x) + "\n" for x in docs))
    cfg = load_config(
        None,
        [
            f"input.paths=[{d / 'in'}]",
            "input.per_file=[{match: chat.jsonl, record: chat}]",
            f"output.path={d / 'out'}",
            "filters.enabled=false",
            "bias.enabled=false",
            "pii.enabled=false",
            "dedup.near.enabled=false",
        ],
    )
    outcome = execute(cfg, ["--direct_num_workers", "1"])
    assert outcome.succeeded
    return d / "out"


def _expected(rows: list[dict]) -> tuple[dict, dict]:
    turns = Counter(size_bucket(len(r["messages"])) for r in rows)
    words = Counter(
        chat_profile.count_bucket(len(m["content"].split()))
        for r in rows
        for m in r["messages"]
        if m["role"] == "assistant"
    )
    return dict(sorted(turns.items())), dict(sorted(words.items()))


def test_the_manifest_section_matches_the_published_records(chat_run):
    m = load_manifest(chat_run)
    section = m["conversations"]
    kept = [r for r in read_parquet_dir(chat_run / "data") if r["messages"] is not None]
    assert section["read"] == 11 and section["kept"] == len(kept) == 10
    assert m["counts"]["duplicate"] == 1 and m["counts"]["kept"] == 13
    turns, words = _expected(kept)
    assert section["histograms"]["turns"]["kept"] == turns
    assert section["histograms"]["response_words"]["kept"] == words
    # the duplicate counts at input: one more of its turn and response buckets
    assert sum(section["histograms"]["turns"]["input"].values()) == 11
    assert "tokens" not in section["histograms"]  # no token-length stage ran
    assert section["dropped_by_rule"] == {}
    # the sums behind the section are the run's stats
    assert m["stats"]["conversations.kept"] == 10


def test_report_renders_the_conversations_section(chat_run):
    page = (chat_run / "report.html").read_text()
    assert "<h2>Conversations</h2>" in page
    assert "11 conversations read, 10 kept." in page
    assert "turns per conversation" in page and "assistant response length (words)" in page
    assert "answer 4" not in page and "question 4" not in page  # never text


def test_card_says_what_a_record_holds(chat_run):
    card = (chat_run / "README.md").read_text()
    assert "Schema `document/2`" in card
    assert "10 of the 13 kept records are conversations" in card
    assert "`messages`" in card


def test_report_drop_table_and_no_section_for_documents(chat_run):
    m = load_manifest(chat_run)
    m["conversations"]["dropped_by_rule"] = {
        "refusal": {"assistant": 3},
        "max_turns": {"conversation": 2},
    }
    page = render(m)
    assert '<th class="n">assistant</th><th class="n">conversation</th>' in page
    assert '<td class="">refusal</td><td class="n">3</td><td class="n">0</td>' in page
    del m["conversations"]
    page = render(m)
    assert "Conversations" not in page
