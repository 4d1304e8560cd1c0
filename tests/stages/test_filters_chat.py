"""FilterLowQuality and FilterLanguage on a mix of documents and conversations in a real Beam
pipeline (FnApiRunner): conversations get the chat rules instead of the web-document rule sets
and are never rewritten; every output asserted exactly (main, fates, dead letters, stats)."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from thresher.config import ChatFilterConfig, FiltersConfig, GopherQualityConfig
from thresher.errors import ConfigError
from thresher.records import Document, Turn, chat_document
from thresher.stages._common import DEAD, FATES, MAIN, STATS
from thresher.stages.filters import FilterLanguage, FilterLowQuality

PROSE = "\n".join(
    [
        "The committee reviewed the proposal and found that it had merit, although several "
        "members raised concerns about the cost of the new bridge.",
        "After a long discussion, they agreed to revisit the question next month with better "
        "data and a clearer plan for the works.",
        "The chair thanked everyone for their time and asked the staff to prepare a summary of "
        "the options before the next meeting.",
        "Residents who live near the river said that they would welcome any plan that reduces "
        "the risk of flooding in the spring.",
        "Several local firms have offered to help with the survey, and the council expects to "
        "publish the results early next year.",
    ]
)
PROMPT = "What is the capital of France, and since when has it been the capital?"
# Two unpunctuated short lines: C4 would remove both and Gopher would drop the text for its
# length, but as an answer in a conversation it is fine.
SHORT_ANSWER = "Paris\nThe capital since the year 987 under Hugh Capet"
ANSWER = (
    "Paris has been the capital of France for most of the time since Hugh Capet made it his "
    "seat in 987, with short breaks such as the government's move to Vichy during the war."
)


def doc(i: str, text) -> Document:
    return Document(id=i, text=text, source="d.jsonl", position=int(i[1:]))


def conv(i: str, *pairs: tuple[str, str | None]) -> Document:
    turns = tuple(Turn(role, content) for role, content in pairs)
    if any(t.content is None for t in turns):  # what no reader emits: a worker error
        return Document(id=i, text="", source="c.jsonl", position=int(i[1:]), messages=turns)
    return chat_document(i, "c.jsonl", int(i[1:]), turns)


RECORDS = [
    doc("d0", PROSE),  # kept by the web-document rules
    doc("d1", "Click here to read the full story"),  # gopher_top_2_gram, as before
    conv("c0", ("system", "Answer briefly."), ("user", PROMPT), ("assistant", SHORT_ANSWER)),
    conv("c1", ("user", PROMPT), ("assistant", "As an AI language model, I cannot answer.")),
    conv("c2", ("system", "Be brief."), ("user", PROMPT)),  # no_assistant_turn
    conv(
        "c3",
        ("user", PROMPT),
        ("assistant", ANSWER),
        ("user", "And before that?"),
        ("assistant", " \n "),  # empty_response at turn 3
    ),
    conv("c4", *[("user", "Again?"), ("assistant", ANSWER)] * 3),  # 6 turns: too_many_turns
    conv("c5", ("user", PROMPT), ("assistant", PROMPT)),  # copies_prompt
    conv("c6", ("user", PROMPT), ("assistant", None)),  # not a string: dead letter
]
FILTERS = FiltersConfig(
    gopher_quality=GopherQualityConfig(min_stop_words=None),
    chat=ChatFilterConfig(max_turns=4),
)
GOPHER_SIGNALS = ("gopher_word_count", "c4_sentences", "fineweb_list_ratio", "length_chars")


def _main_view(d: Document):
    web = any(k in d.signals for k in GOPHER_SIGNALS)
    chat = sorted(k for k in d.signals if k.startswith("chat_"))
    return d.id, d.text, d.messages, d.modifications, web, chat


def _fate_view(f):
    d = f.details
    return (f.id, f.fate, f.stage), (f.reason, d.get("rule_set"), d.get("turn"), d.get("role"))


def dropped(i: str) -> tuple[str, str, str]:
    return (i, "dropped", "filter_quality")


CHAT_SIGNALS = [
    "chat_assistant_turns",
    "chat_prompt_copy_frac_max",
    "chat_refusal_turns",
    "chat_response_dup_3_gram_char_frac_max",
    "chat_response_words_max",
    "chat_response_words_min",
    "chat_turns",
]


def test_mixed_records_drop_mode_outputs_exactly():
    with TestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(RECORDS) | FilterLowQuality(FILTERS)
        c0 = RECORDS[2]
        assert_that(
            out[MAIN] | "Main" >> beam.Map(_main_view),
            equal_to(
                [
                    ("d0", PROSE, (), (), True, []),
                    # c4 remove_lines (the default) never rewrites a conversation
                    ("c0", c0.text, c0.messages, (), False, CHAT_SIGNALS),
                ]
            ),
            label="Main",
        )
        assert_that(
            out[FATES] | "Fates" >> beam.Map(_fate_view),
            equal_to(
                [
                    (dropped("d1"), ("gopher_top_2_gram", "gopher_repetition", None, None)),
                    (dropped("c1"), ("refusal", "chat", 1, "assistant")),
                    (dropped("c2"), ("no_assistant_turn", "chat", None, None)),
                    (dropped("c3"), ("empty_response", "chat", 3, "assistant")),
                    (dropped("c4"), ("too_many_turns", "chat", 4, "user")),
                    (dropped("c5"), ("copies_prompt", "chat", 1, "assistant")),
                ]
            ),
            label="Fates",
        )
        assert_that(
            out[DEAD] | "Dead" >> beam.Map(lambda d: (d.id, d.stage, d.error_type)),
            equal_to([("c6", "filter_quality", "AttributeError")]),
            label="Dead",
        )
        assert_that(
            out[STATS] | "Watched" >> beam.Filter(lambda kv: ".group." not in kv[0]),
            equal_to(
                [
                    ("bias.filter.low_quality.records", 8),
                    ("bias.filter.low_quality.removed", 6),
                    ("bias.filter.length.records", 2),
                    ("bias.filter.gopher_repetition.records", 2),
                    ("bias.filter.gopher_repetition.removed", 1),
                    ("bias.filter.gopher_quality.records", 1),
                    ("bias.filter.c4.records", 1),
                    ("bias.filter.fineweb.records", 1),
                    ("bias.filter.chat.records", 6),
                    ("bias.filter.chat.removed", 5),
                ]
            ),
            label="Stats",
        )


def test_chat_drop_details_are_numbers_never_text():
    with TestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(RECORDS[3:4]) | FilterLowQuality(FILTERS)
        assert_that(
            out[FATES] | beam.Map(lambda f: {k: v for k, v in f.details.items() if k != "signals"}),
            equal_to(
                [
                    {
                        "rule_set": "chat",
                        "turn": 1,
                        "role": "assistant",
                        "value": 1.0,
                        "phrase_line": 13,  # "As an AI language model" in the shipped list
                    }
                ]
            ),
        )


def test_annotate_mode_keeps_every_conversation_with_its_verdict():
    annotate = FILTERS.model_copy(update={"mode": "annotate"})
    with TestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(RECORDS) | FilterLowQuality(annotate)
        assert_that(
            out[MAIN]
            | beam.Map(
                lambda d: (
                    d.id,
                    d.signals.get("chat_pass"),
                    d.signals.get("gopher_repetition_pass"),
                    d.modifications,
                )
            ),
            equal_to(
                [
                    ("d0", None, 1.0, ()),
                    ("d1", None, 0.0, ()),
                    ("c0", 1.0, None, ()),
                    ("c1", 0.0, None, ()),
                    ("c2", 0.0, None, ()),
                    ("c3", 0.0, None, ()),
                    ("c4", 0.0, None, ()),
                    ("c5", 0.0, None, ()),
                ]
            ),
        )
        assert_that(out[FATES], equal_to([]), label="NoFates")
        assert_that(out[DEAD] | "DeadIds" >> beam.Map(lambda d: d.id), equal_to(["c6"]), label="D")


def test_chat_rules_off_pass_conversations_untouched():
    off = FILTERS.model_copy(update={"chat": ChatFilterConfig(enabled=False)})
    with TestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(RECORDS[2:6]) | FilterLowQuality(off)
        assert_that(
            out[MAIN] | beam.Map(lambda d: (d.id, any(k.startswith("chat_") for k in d.signals))),
            equal_to([("c0", False), ("c1", False), ("c2", False), ("c3", False)]),
        )
        assert_that(out[FATES], equal_to([]), label="NoFates")


def test_a_custom_phrase_file_on_a_beam_path(tmp_path):
    phrases = tmp_path / "phrases.txt"
    phrases.write_text("# house style\nhappy to help\n", encoding="utf-8")
    cfg = FILTERS.model_copy(update={"chat": ChatFilterConfig(refusal_phrases_file=str(phrases))})
    records = [
        conv("c0", ("user", PROMPT), ("assistant", "Happy to  help! " + ANSWER)),
        conv("c1", ("user", PROMPT), ("assistant", "As an AI language model, " + ANSWER)),
    ]
    with TestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(records) | FilterLowQuality(cfg)
        assert_that(out[MAIN] | beam.Map(lambda d: d.id), equal_to(["c1"]), label="Main")
        assert_that(
            out[FATES] | beam.Map(lambda f: (f.id, f.reason, f.details["phrase_line"])),
            equal_to([("c0", "refusal", 2)]),
            label="Fates",
        )


@pytest.mark.parametrize(
    ("content", "match"),
    [(None, "cannot read"), (b"\xff\xfe bad", "not UTF-8"), (b"# nothing\n", "holds no phrase")],
)
def test_a_bad_phrase_file_fails_at_construction(tmp_path, content, match):
    path = tmp_path / "phrases.txt"
    if content is not None:
        path.write_bytes(content)
    cfg = FILTERS.model_copy(update={"chat": ChatFilterConfig(refusal_phrases_file=str(path))})
    p = beam.Pipeline()
    with pytest.raises(ConfigError, match=r"filters\.chat\.refusal_phrases_file: .*" + match):
        _ = p | beam.Create(RECORDS[:1]) | FilterLowQuality(cfg)


def test_language_is_identified_on_the_whole_conversation():
    records = [
        conv("c0", ("user", PROMPT), ("assistant", ANSWER)),
        conv(
            "c1",
            ("user", "Was ist die Hauptstadt von Frankreich, und seit wann ist sie es?"),
            (
                "assistant",
                "Paris ist seit dem Jahr 987 die Hauptstadt Frankreichs, mit kurzen "
                "Unterbrechungen wie dem Umzug der Regierung nach Vichy im Krieg.",
            ),
        ),
    ]
    with TestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(records) | FilterLanguage(FILTERS.language)
        assert_that(
            out[MAIN] | beam.Map(lambda d: (d.id, d.language, d.messages == records[0].messages)),
            equal_to([("c0", "en", True)]),
            label="Main",
        )
        assert_that(
            out[FATES] | beam.Map(lambda f: (f.id, f.reason, f.details["language"])),
            equal_to([("c1", "language_not_allowed", "de")]),
            label="Fates",
        )
