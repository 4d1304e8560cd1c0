"""``Decontaminate`` on real Beam (tier b): every output asserted exactly, both index paths."""

from __future__ import annotations

import bz2
import gzip
import json

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from thresher.config import DecontaminationConfig
from thresher.core.decontam import match_words
from thresher.errors import InputError
from thresher.records import Document, Turn, chat_document, kept_fate
from thresher.stages.decontaminate import Decontaminate

QUESTION = (
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips "
    "in May. How many clips did Natalia sell altogether in April and May?"
)
ANSWER = "Natalia sold 48/2 = 24 clips in May. Natalia sold 48+24 = 72 clips in all."
MMLU_Q = (
    "Which of the following best describes the role of the mitochondria in a eukaryotic cell "
    "during aerobic respiration?"
)
SHORT = "Name the largest planet."
CLEAN = "The river ran high after the storm, and the ferry waited at the pier until noon."
OTHER = "A train leaves the station at noon and travels at sixty miles per hour toward a town."


def pipeline():
    return BeamTestPipeline(options=PipelineOptions(["--runner=FnApiRunner"]))


@pytest.fixture
def bench_files(tmp_path):
    gsm = tmp_path / "gsm8k_test.jsonl"
    gsm.write_text(
        json.dumps({"question": QUESTION, "answer": ANSWER})
        + "\n"
        + json.dumps({"question": OTHER, "answer": "7"})
        + "\n"
    )
    mmlu = tmp_path / "mmlu.parquet"
    pq.write_table(
        pa.Table.from_pylist(
            [
                {"id": "bio-1", "question": MMLU_Q, "choices": ["ATP", "DNA", "RNA", "fat"]},
                {"id": "astro-2", "question": SHORT, "choices": ["Jupiter"]},
            ]
        ),
        mmlu,
    )
    return gsm, mmlu


def config(gsm, mmlu, **kw) -> DecontaminationConfig:
    return DecontaminationConfig(
        benchmarks=[
            {"name": "gsm8k", "paths": [str(gsm)], "fields": ["question", "answer"]},
            {"name": "mmlu", "paths": [str(mmlu)], "fields": ["question"], "id_field": "id"},
        ],
        **kw,
    )


DOCS = [
    Document("d-verbatim", "Homework help.\n" + QUESTION, "s.jsonl", 0),
    Document("d-caps", "  ".join(MMLU_Q.upper().split()) + " ANSWER: C", "s.jsonl", 1),
    Document("d-clean", CLEAN, "s.jsonl", 2),
    Document("d-short", "Quiz\n" + SHORT.lower() + "\nJupiter", "s.jsonl", 3),
    Document("d-answer", "Solution: " + ANSWER, "s.jsonl", 4),
]
BROKEN = Document("d-broken", None, "s.jsonl", 5)  # type: ignore[arg-type]

GSM_ID = "gsm8k_test.jsonl:1"
Q_GRAMS = len(match_words(QUESTION)) - 13 + 1
A_GRAMS = len(match_words(ANSWER)) - 13 + 1
OTHER_GRAMS = len(match_words(OTHER)) - 13 + 1


def _gsm(matched):
    return {
        "items_matched": 1,
        "items": [
            {
                "item": GSM_ID,
                "match": "ngram",
                "ngrams_matched": matched,
                "item_ngrams": Q_GRAMS + A_GRAMS,
                "fraction": round(matched / (Q_GRAMS + A_GRAMS), 4),
            }
        ],
    }


MMLU_GRAMS = len(match_words(MMLU_Q)) - 13 + 1
EXPECTED_DETAILS = {
    "d-verbatim": {"ngram": 13, "benchmarks": {"gsm8k": _gsm(Q_GRAMS)}},
    "d-answer": {"ngram": 13, "benchmarks": {"gsm8k": _gsm(A_GRAMS)}},
    "d-caps": {
        "ngram": 13,
        "benchmarks": {
            "mmlu": {
                "items_matched": 1,
                "items": [
                    {
                        "item": "bio-1",
                        "match": "ngram",
                        "ngrams_matched": MMLU_GRAMS,
                        "item_ngrams": MMLU_GRAMS,
                        "fraction": 1.0,
                    }
                ],
            }
        },
    },
    "d-short": {
        "ngram": 13,
        "benchmarks": {
            "mmlu": {
                "items_matched": 1,
                "items": [{"item": "astro-2", "match": "whole", "fraction": 1.0}],
            }
        },
    },
}
EXPECTED_STATS = {
    "decontamination.checked": 5,
    "decontamination.contaminated": 4,
    "run.decontamination.gsm8k.items": 2,
    "decontamination.gsm8k.records": 2,
    "decontamination.gsm8k.found." + GSM_ID: 1,
    "decontamination.gsm8k.example_record.d-answer": 1,
    "decontamination.gsm8k.example_record.d-verbatim": 1,
    "run.decontamination.mmlu.items": 2,
    "decontamination.mmlu.records": 2,
    "decontamination.mmlu.found.astro-2": 1,
    "decontamination.mmlu.found.bio-1": 1,
    "decontamination.mmlu.example_record.d-caps": 1,
    "decontamination.mmlu.example_record.d-short": 1,
}


def _summed(pairs):
    out: dict[str, float] = {}
    for k, v in pairs:
        out[k] = out.get(k, 0) + v
    return out


def _without_index(stats):
    return {k: v for k, v in stats.items() if ".index_" not in k and not k.endswith(".join")}


@pytest.mark.parametrize("limit", [5_000_000, 1], ids=["side_input", "join"])
def test_drop_outputs_exactly_on_both_paths(bench_files, limit):
    cfg = config(*bench_files, max_side_input_ngrams=limit)
    with pipeline() as p:
        out = p | beam.Create([*DOCS, BROKEN]) | "Decontaminate" >> Decontaminate(cfg)
        assert_that(out["main"] | "M" >> beam.Map(lambda d: d.id), equal_to(["d-clean"]), "main")
        assert_that(
            out["fates"]
            | "F"
            >> beam.Map(
                lambda f: (f.id, f.fate, f.stage, f.reason, json.dumps(f.details, sort_keys=True))
            ),
            equal_to(
                [
                    (i, "dropped", "decontaminate", "contaminated", json.dumps(d, sort_keys=True))
                    for i, d in EXPECTED_DETAILS.items()
                ]
            ),
            "fates",
        )
        assert_that(
            out["dead_letter"] | "D" >> beam.Map(lambda d: (d.id, d.stage, d.error_type)),
            equal_to([("d-broken", "decontaminate", "TypeError")]),
            "dead",
        )
        stats = (
            out["stats"]
            | "Stats" >> beam.combiners.ToList()
            | "Sum" >> beam.Map(lambda s: _without_index(_summed(s)))
        )
        assert_that(stats, equal_to([EXPECTED_STATS]), "stats")
        index = out["stats"] | "IndexStats" >> beam.Filter(
            lambda kv: ".index_" in kv[0] or kv[0].endswith(".join")
        )
        if limit == 1:
            expected_index = [
                ("run.decontamination.join", 1),
                ("run.decontamination.index_ngrams", Q_GRAMS + A_GRAMS + OTHER_GRAMS + MMLU_GRAMS),
            ]
            assert_that(index, equal_to(expected_index), "index")
        else:
            assert_that(
                index | "Names" >> beam.Map(lambda kv: (kv[0], kv[1] > 0)),
                equal_to(
                    [
                        ("run.decontamination.index_ngrams", True),
                        ("run.decontamination.index_bytes", True),
                    ]
                ),
                "index",
            )


def test_annotate_keeps_every_record_with_signal_and_details(bench_files):
    cfg = config(*bench_files, action="annotate")
    with pipeline() as p:
        out = p | beam.Create(DOCS) | Decontaminate(cfg)
        main = out["main"] | "M" >> beam.Map(
            lambda d: (
                d.id,
                d.signals["contaminated"],
                d.signals["contamination_fraction"],
                json.dumps(kept_fate(d).details, sort_keys=True),
            )
        )
        expected = [
            (
                d.id,
                1.0 if d.id in EXPECTED_DETAILS else 0.0,
                max(
                    (
                        item["fraction"]
                        for b in EXPECTED_DETAILS.get(d.id, {}).get("benchmarks", {}).values()
                        for item in b["items"]
                    ),
                    default=0.0,
                ),
                json.dumps(
                    {"decontamination": EXPECTED_DETAILS[d.id]} if d.id in EXPECTED_DETAILS else {},
                    sort_keys=True,
                ),
            )
            for d in DOCS
        ]
        assert_that(main, equal_to(expected), "main")
        assert_that(out["fates"], equal_to([]), "fates")
        assert_that(out["dead_letter"], equal_to([]), "dead")


def test_benchmark_formats_and_list_fields(tmp_path):
    """CSV, bzip2 text (one item per line), gzip JSONL with a list-valued field (MT-bench
    `turns`): every format thresher reads is a benchmark file."""
    (tmp_path / "b.csv").write_text(f'id,prompt\nc1,"{CLEAN}"\n')
    (tmp_path / "lines.txt.bz2").write_bytes(bz2.compress(f"\n{MMLU_Q}\n".encode()))
    (tmp_path / "mt.jsonl.gz").write_bytes(
        gzip.compress(json.dumps({"turns": ["Say hi.", QUESTION]}).encode() + b"\n")
    )
    cfg = DecontaminationConfig(
        benchmarks=[
            {"name": "csvb", "paths": [str(tmp_path / "b.csv")], "fields": ["prompt"]},
            {"name": "text", "paths": [str(tmp_path / "lines.txt.bz2")], "fields": ["text"]},
            {"name": "mt", "paths": [str(tmp_path / "mt.jsonl.gz")], "fields": ["turns"]},
        ]
    )
    with pipeline() as p:
        out = p | beam.Create(DOCS) | Decontaminate(cfg)
        assert_that(
            out["fates"]
            | beam.Map(
                lambda f: (
                    f.id,
                    sorted(
                        (b, i["item"])
                        for b, v in f.details["benchmarks"].items()
                        for i in v["items"]
                    ),
                )
            ),
            equal_to(
                [
                    ("d-verbatim", [("mt", "mt.jsonl.gz:1")]),
                    ("d-caps", [("text", "lines.txt.bz2:2")]),
                    ("d-clean", [("csvb", "b.csv:1")]),
                ]
            ),
        )


@pytest.mark.parametrize(
    ("files", "bench", "needle"),
    [
        ({}, {"paths": ["missing.jsonl"]}, "decontamination.benchmarks[b].paths: 'MISSING"),
        ({"e.jsonl": ""}, {"paths": ["e.jsonl"]}, "decontamination.benchmarks[b].paths: the "),
        (
            {"f.jsonl": json.dumps({"question": "q"}) + "\n"},
            {"paths": ["f.jsonl"], "fields": ["question", "answer"]},
            "decontamination.benchmarks[b].fields: field 'answer' is missing",
        ),
        (
            {"g.jsonl": json.dumps({"question": {"nested": 1}}) + "\n"},
            {"paths": ["g.jsonl"]},
            "decontamination.benchmarks[b].fields: field 'question' at ",
        ),
        (
            {"h.jsonl": '{"question": "unterminated\n'},
            {"paths": ["h.jsonl"]},
            "decontamination.benchmarks[b]: ",
        ),
        (
            {
                "i.jsonl": json.dumps({"id": 1, "question": "a"})
                + "\n"
                + json.dumps({"id": 1, "question": "b"})
                + "\n"
            },
            {"paths": ["i.jsonl"], "id_field": "id"},
            "item id '1' appears twice",
        ),
        (
            {"j.parquet": None},
            {"paths": ["j.parquet"]},
            "decontamination.benchmarks[b].fields: field 'question' is missing",
        ),
    ],
    ids=["missing-file", "empty", "missing-field", "non-text", "bad-json", "dup-id", "no-column"],
)
def test_bad_benchmark_input_is_an_error_before_the_pipeline_runs(tmp_path, files, bench, needle):
    for name, content in files.items():
        if content is None:
            pq.write_table(pa.Table.from_pylist([{"other": "x"}]), tmp_path / name)
        else:
            (tmp_path / name).write_text(content)
    bench = {"name": "b", "fields": ["question"], **bench}
    bench["paths"] = [str(tmp_path / p) for p in bench["paths"]]
    needle = needle.replace("'MISSING", repr(str(tmp_path / "missing.jsonl"))[:-1])
    cfg = DecontaminationConfig(benchmarks=[bench])
    p = beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"]))
    docs = p | beam.Create(DOCS)
    with pytest.raises(InputError) as err:
        docs | Decontaminate(cfg)
    assert needle in str(err.value)
    assert "unterminated" not in str(err.value)  # never quotes the item's text


def _turns(rid, *turns):
    return chat_document(rid, "c.jsonl", 0, tuple(Turn(r, c) for r, c in turns))


@pytest.mark.parametrize("limit", [5_000_000, 1], ids=["side_input", "join"])
def test_conversations_turn_by_turn_and_across_the_prompt_and_answer(bench_files, limit):
    """Prompt-only, answer-only and split-across-turns contamination in chat records; a turn
    of an unchecked role is not looked at; the lineage names the turns."""
    words = QUESTION.split()
    half = len(words) // 2
    chats = [
        _turns("c-prompt", ("user", QUESTION), ("assistant", "72")),
        _turns("c-answer", ("user", "Help me with this one."), ("assistant", ANSWER)),
        _turns(
            "c-split",
            ("user", " ".join(words[:half])),
            ("assistant", " ".join(words[half:]) + " The answer is 72."),
        ),
        _turns("c-system", ("system", QUESTION), ("user", "Hi"), ("assistant", "Hello.")),
        _turns("c-clean", ("user", CLEAN), ("assistant", OTHER[:20])),
    ]
    cfg = config(*bench_files, max_side_input_ngrams=limit, roles=["user", "assistant"])
    with pipeline() as p:
        out = p | beam.Create(chats) | "Decontaminate" >> Decontaminate(cfg)
        assert_that(
            out["main"] | "M" >> beam.Map(lambda d: d.id),
            equal_to(["c-system", "c-clean"]),
            "main",
        )
        assert_that(
            out["fates"]
            | "F"
            >> beam.Map(
                lambda f: (
                    f.id,
                    f.reason,
                    sorted(
                        {
                            t
                            for item in f.details["benchmarks"]["gsm8k"]["items"]
                            for t in item.get("turns", [])
                        }
                    ),
                )
            ),
            equal_to(
                [
                    ("c-prompt", "contaminated", [0]),
                    ("c-answer", "contaminated", [1]),
                    ("c-split", "contaminated", [0, 1]),
                ]
            ),
            "fates",
        )
