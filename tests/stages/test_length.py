"""``LimitTokens`` on a real Beam pipeline with a real (tiny, locally trained) tokenizer."""

import dataclasses
import json

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from thresher.config import PipelineConfig, TokenLengthConfig
from thresher.errors import InputError
from thresher.plan import stage_plan
from thresher.records import Document, Turn, chat_document
from thresher.stages.length import LimitTokens

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa"


def make_tokenizer(path):
    """A word-level tokenizer trained on a few strings (no download): one token per word or
    punctuation run, unknown words included (as ``[UNK]``)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator([WORDS], trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    tok.save(str(path))
    return str(path)


def words(n):
    return " ".join(WORDS.split()[i % 10] for i in range(n))


def chat(i, *turns):
    return chat_document(i, "c.jsonl", int(i[1:]), tuple(Turn(r, words(n)) for r, n in turns))


@pytest.fixture
def tokenizer(tmp_path):
    return make_tokenizer(tmp_path / "tokenizer.json")


def pipeline():
    return BeamTestPipeline(options=PipelineOptions(["--runner=FnApiRunner"]))


def _main(d):
    return (
        d.id,
        (
            "kept",
            tuple((t.role, len(t.content.split())) for t in d.messages),
            len(d.text.split()),
            tuple(sorted(d.signals.items())),
            d.modifications,
            json.dumps(dict(d.details), sort_keys=True),
        ),
    )


def check_stage(cfg, records, expected):
    """Run the stage and assert every output exactly: ``expected`` maps each record id to
    ``("kept", turns (role, words), words, signals, modifications, details)``,
    ``("dropped", stage, reason, details)`` or ``("dead", stage)``."""
    with pipeline() as p:
        out = p | beam.Create(records) | LimitTokens(cfg)
        main = out["main"] | "M" >> beam.Map(_main)
        fates = out["fates"] | "F" >> beam.Map(
            lambda f: (f.id, (f.fate, f.stage, f.reason, f.details and dict(f.details)))
        )
        dead = out["dead_letter"] | "D" >> beam.Map(lambda d: (d.id, ("dead", d.stage)))
        assert_that((main, fates, dead) | beam.Flatten(), equal_to(list(expected.items())))


def dropped(details):
    return ("dropped", "length", "too_many_tokens", details)


def kept(turns, n_words, signals, modifications=(), details="{}"):
    return ("kept", turns, n_words, tuple(sorted(signals.items())), modifications, details)


def test_drop_counts_every_record_and_drops_over_the_limit(tokenizer):
    docs = [
        Document("d1", words(6), "d.jsonl", 1),
        Document("d2", words(7) + " unknownword", "d.jsonl", 2),  # 8 tokens: [UNK] counts
        chat("c3", ("user", 2), ("assistant", 3)),
        chat("c4", ("system", 1), ("user", 3), ("assistant", 4)),
    ]
    chat_signals = {"tokens": 5.0, "tokens_assistant": 3.0, "tokens_max_turn": 3.0}
    expected = {
        "d1": kept((), 6, {"tokens": 6.0}),
        "d2": dropped({"max_tokens": 7, "signals": {"tokens": 8.0}, "tokens": 8}),
        "c3": kept((("user", 2), ("assistant", 3)), 5, chat_signals),
        "c4": dropped(
            {
                "max_tokens": 7,
                "signals": {"tokens": 8.0, "tokens_assistant": 4.0, "tokens_max_turn": 4.0},
                "tokens": 8,
                "turns": 3,
            }
        ),
    }
    check_stage(TokenLengthConfig(tokenizer=tokenizer, max_tokens=7), docs, expected)


def test_without_a_limit_only_signals_are_added(tokenizer):
    docs = [Document("d1", words(900), "d.jsonl", 1), chat("c2", ("user", 40), ("assistant", 50))]
    expected = {
        "d1": kept((), 900, {"tokens": 900.0}),
        "c2": kept(
            (("user", 40), ("assistant", 50)),
            90,
            {"tokens": 90.0, "tokens_assistant": 50.0, "tokens_max_turn": 50.0},
        ),
    }
    check_stage(TokenLengthConfig(tokenizer=tokenizer), docs, expected)


def test_truncate_removes_whole_trailing_exchanges(tokenizer):
    first = chat("c1", ("system", 1), ("user", 2), ("assistant", 3), ("user", 2), ("assistant", 9))
    records = [
        dataclasses.replace(first, details={"decontamination": {"x": 1}}),
        chat("c2", ("user", 2), ("assistant", 2), ("user", 20)),  # ends with a user turn
        chat("c3", ("user", 11), ("assistant", 1)),  # no prefix fits
        chat("c4", ("user", 3), ("assistant", 3)),  # fits whole
        Document("d5", words(11), "d.jsonl", 5),  # documents cannot be truncated
    ]

    def cut(turns, turns_kept, tokens, tokens_kept):
        return {
            "max_tokens": 10,
            "tokens": tokens,
            "tokens_kept": tokens_kept,
            "turns": turns,
            "turns_kept": turns_kept,
            "turns_removed": turns - turns_kept,
        }

    expected = {
        "c1": kept(
            (("system", 1), ("user", 2), ("assistant", 3)),
            6,
            {"tokens": 6.0, "tokens_assistant": 3.0, "tokens_max_turn": 3.0},
            ("length_truncate",),
            json.dumps(
                {"decontamination": {"x": 1}, "length_truncate": cut(5, 3, 17, 6)}, sort_keys=True
            ),
        ),
        "c2": kept(
            (("user", 2), ("assistant", 2)),
            4,
            {"tokens": 4.0, "tokens_assistant": 2.0, "tokens_max_turn": 2.0},
            ("length_truncate",),
            json.dumps({"length_truncate": cut(3, 2, 24, 4)}, sort_keys=True),
        ),
        "c3": dropped(
            {
                "max_tokens": 10,
                "signals": {"tokens": 12.0, "tokens_assistant": 1.0, "tokens_max_turn": 11.0},
                "tokens": 12,
                "turns": 2,
            }
        ),
        "c4": kept(
            (("user", 3), ("assistant", 3)),
            6,
            {"tokens": 6.0, "tokens_assistant": 3.0, "tokens_max_turn": 3.0},
        ),
        "d5": dropped({"max_tokens": 10, "signals": {"tokens": 11.0}, "tokens": 11}),
    }
    cfg = TokenLengthConfig(tokenizer=tokenizer, max_tokens=10, on_overflow="truncate")
    check_stage(cfg, records, expected)


def test_a_truncated_conversation_keeps_its_text_view_in_step(tokenizer):
    record = chat("c1", ("user", 2), ("assistant", 2), ("user", 5), ("assistant", 5))
    cfg = TokenLengthConfig(tokenizer=tokenizer, max_tokens=5, on_overflow="truncate")
    with pipeline() as p:
        out = p | beam.Create([record]) | LimitTokens(cfg)
        assert_that(
            out["main"] | beam.Map(lambda d: (d.text, d.messages)),
            equal_to([(f"{words(2)}\n\n{words(2)}", record.messages[:2])]),
        )


def test_a_record_the_stage_cannot_handle_is_dead_lettered(tokenizer):
    bad = Document("x1", None, "d.jsonl", 1)  # type: ignore[arg-type]
    good = Document("d2", words(3), "d.jsonl", 2)
    expected = {"x1": ("dead", "length"), "d2": kept((), 3, {"tokens": 3.0})}
    check_stage(TokenLengthConfig(tokenizer=tokenizer, max_tokens=5), [bad, good], expected)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "does not exist"),
        (b'{"not": "a tokenizer"}', "is not a Hugging Face tokenizer.json"),
        (b"\xff\xfe garbage", "is not a Hugging Face tokenizer.json"),
    ],
)
def test_a_bad_tokenizer_fails_when_the_stage_is_built(tmp_path, content, needle):
    path = tmp_path / "tokenizer.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as err:
        LimitTokens(TokenLengthConfig(tokenizer=str(path), max_tokens=5))
    assert "length.tokenizer" in str(err.value) and needle in str(err.value)


def test_a_folder_is_not_a_tokenizer(tmp_path):
    with pytest.raises(InputError, match=r"length\.tokenizer.*cannot be read"):
        LimitTokens(TokenLengthConfig(tokenizer=str(tmp_path)))


def test_plan_runs_the_stage_after_the_filters_and_before_near_dedup(tokenizer):
    names = [s.name for s in stage_plan(PipelineConfig())]
    assert "length" not in names
    names = [s.name for s in stage_plan(PipelineConfig(length={"tokenizer": tokenizer}))]
    assert names.index("filter_quality") < names.index("length") < names.index("near_dedup")
    (spec,) = [
        s for s in stage_plan(PipelineConfig(length={"tokenizer": tokenizer})) if s.name == "length"
    ]
    assert spec.label == "LimitTokens"
