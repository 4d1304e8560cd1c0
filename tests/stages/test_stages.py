"""One TestPipeline test per stage, asserting every output exactly (tier b)."""

import gzip
import json

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from thresher.config import ExactDedupConfig, InputConfig, NormalizeConfig
from thresher.io.read import InputFile, ReadCorpus, resolve_inputs
from thresher.io.write import WriteShards, bucket_count, chunk_rows
from thresher.records import Document
from thresher.schema import DOCUMENT_SCHEMA, document_row
from thresher.stages.exact_dedup import DropExactDuplicates
from thresher.stages.normalize import Normalize


def pipeline():
    return BeamTestPipeline(options=PipelineOptions(["--runner=FnApiRunner"]))


def doc(i, text, source="s.jsonl"):
    return Document(id=i, text=text, source=source, position=int(i[1:]) if i[1:].isdigit() else 0)


def test_normalize_stage_outputs_exactly():
    docs = [doc("d1", "hello   world"), doc("d2", "clean"), doc("d3", " \u200b \n ")]
    bad = Document(id="d4", text=None, source="s.jsonl", position=4)  # type: ignore[arg-type]
    with pipeline() as p:
        out = p | beam.Create([*docs, bad]) | Normalize(NormalizeConfig())
        assert_that(
            out["main"] | "M" >> beam.Map(lambda d: (d.id, d.text, d.modifications)),
            equal_to([("d1", "hello world", ("normalize",)), ("d2", "clean", ())]),
            label="main",
        )
        assert_that(
            out["fates"] | "F" >> beam.Map(lambda f: (f.id, f.fate, f.stage, f.reason)),
            equal_to([("d3", "dropped", "normalize", "empty_after_normalize")]),
            label="fates",
        )
        assert_that(
            out["dead_letter"]
            | "D" >> beam.Map(lambda d: (d.id, d.stage, d.error_type, "normalize.py" in d.message)),
            equal_to([("d4", "normalize", "AttributeError", True)]),
            label="dead",
        )


class _RejectsOrRaises(beam.DoFn):
    """Keeps ``keep``, dead-letters ``reject`` itself, raises on anything else."""

    def process(self, d):
        from apache_beam.pvalue import TaggedOutput

        from thresher.records import DeadLetter
        from thresher.stages._common import DEAD

        if d.id == "keep":
            yield d
        elif d.id == "reject":
            yield TaggedOutput(
                DEAD, DeadLetter(d.id, d.source, d.position, "t", "bad_record", "rejected")
            )
        else:
            raise ValueError(d.text)


def test_a_guarded_stage_gives_its_own_dead_letters_and_its_errors_as_one_output():
    """Beam's failures share the DoFn's dead-letter output (no Flatten joins them); each
    becomes one dead letter, and the exception's message, which can quote input, is not kept."""
    from thresher.stages._common import DEAD, apply_guarded

    docs = [doc("keep", "fine"), doc("reject", "bad"), doc("boom", "secret 555-0100")]
    with pipeline() as p:
        out = apply_guarded(p | beam.Create(docs), "Guarded", _RejectsOrRaises(), "t")
        assert_that(out["main"] | "M" >> beam.Map(lambda d: d.id), equal_to(["keep"]), label="m")
        assert_that(
            out[DEAD]
            | "D"
            >> beam.Map(
                lambda d: (d.id, d.stage, d.error_type, "555" in d.message, d.message[:10])
            ),
            equal_to(
                [
                    ("reject", "t", "bad_record", False, "rejected"),
                    ("boom", "t", "ValueError", False, "unexpected"),
                ]
            ),
            label="dead",
        )
    parts = p.transforms_stack[0].parts
    assert not any(isinstance(t.transform, beam.Flatten) for t in parts)
    assert "GuardedDeadLetters" in {t.full_label for t in parts}


def test_exact_dedup_keeps_first_and_names_it():
    docs = [
        Document("b", "Same text", "z.jsonl", 0),
        Document("a", "Same  text", "y.jsonl", 5),
        Document("c", "Same text", "y.jsonl", 9),
        Document("d", "same text", "y.jsonl", 1),
        Document("e", "Other", "x.jsonl", 0),
    ]
    with pipeline() as p:
        out = p | beam.Create(docs) | DropExactDuplicates(ExactDedupConfig())
        assert_that(
            out["main"] | "M" >> beam.Map(lambda d: d.id), equal_to(["a", "d", "e"]), label="main"
        )
        assert_that(
            out["fates"] | "F" >> beam.Map(lambda f: (f.id, f.fate, f.reason, f.duplicate_of)),
            equal_to(
                [
                    ("b", "duplicate", "exact_duplicate", "a"),
                    ("c", "duplicate", "exact_duplicate", "a"),
                ]
            ),
            label="fates",
        )
        assert_that(out["dead_letter"], equal_to([]), label="dead")


def test_exact_dedup_casefold_and_smallest_id_policy():
    docs = [Document("b", "Hello, World", "x", 0), Document("a", "hello world", "x", 1)]
    with pipeline() as p:
        out = (
            p
            | beam.Create(docs)
            | DropExactDuplicates(
                ExactDedupConfig(casefold=True, strip_punctuation=True, keep="smallest_id")
            )
        )
        assert_that(out["main"] | "M" >> beam.Map(lambda d: d.id), equal_to(["a"]), label="main")
        assert_that(
            out["fates"] | "F" >> beam.Map(lambda f: (f.id, f.duplicate_of, f.cluster_id[:1])),
            equal_to([("b", "a", "x")]),
            label="fates",
        )


def test_read_corpus_outputs_exactly(tmp_path):
    (tmp_path / "a.jsonl.gz").write_bytes(
        gzip.compress(b'{"id": "1", "text": "one"}\nnot json\n{"id": "1", "text": "again"}\n')
    )
    (tmp_path / "b.txt").write_text("a whole file")
    (tmp_path / ".hidden").write_text("skipped")
    (tmp_path / "_SUCCESS").write_text("")
    files = resolve_inputs([str(tmp_path)], [".*", "_*"])
    assert [f.path.rsplit("/", 1)[1] for f in files] == ["a.jsonl.gz", "b.txt"]
    with pipeline() as p:
        out = p | ReadCorpus(files, InputConfig(id_field="id"))
        assert_that(
            out["main"] | "M" >> beam.Map(lambda d: (d.text, d.position)),
            equal_to([("one", 0), ("a whole file", 0)]),
            label="main",
        )
        assert_that(
            out["dead_letter"] | "D" >> beam.Map(lambda d: (d.position, d.error_type)),
            equal_to([(1, "invalid_json"), (2, "duplicate_id")]),
            label="dead",
        )


def test_read_corpus_unreadable_file_is_one_dead_letter(tmp_path):
    missing = InputFile(str(tmp_path / "gone.jsonl"), 10)
    with pipeline() as p:
        out = p | ReadCorpus([missing], InputConfig())
        assert_that(out["main"], equal_to([]), label="main")
        assert_that(
            out["dead_letter"]
            | beam.Map(lambda d: (d.position, d.error_type, d.source == missing.path)),
            equal_to([(-1, "unreadable_file", True)]),
            label="dead",
        )


def test_resolve_inputs_rejects_patterns_that_match_nothing(tmp_path):
    from thresher.errors import InputError

    with pytest.raises(InputError, match="matches no file"):
        resolve_inputs([str(tmp_path / "nope*.jsonl")])


@pytest.mark.parametrize(
    ("rows", "nbytes", "max_rows", "max_bytes", "expected"),
    [(0, 0, 10, 100, 1), (8, 10, 10, 1000, 1), (9, 10, 10, 1000, 2), (10, 5000, 100, 1000, 7)],
)
def test_bucket_count(rows, nbytes, max_rows, max_bytes, expected):
    assert bucket_count(rows, nbytes, max_rows, max_bytes) == expected


def test_chunk_rows_caps_rows_and_bytes_and_never_drops():
    rows = [{"i": i} for i in range(10)]
    sizes = [10, 10, 10, 50, 10, 10, 200, 10, 10, 10]
    chunks = list(chunk_rows(rows, sizes, max_rows=3, max_bytes=60))
    assert [[r["i"] for r in c] for c in chunks] == [[0, 1, 2], [3, 4], [5], [6], [7, 8, 9]]


def test_write_shards_are_capped_sorted_and_never_empty(tmp_path):
    docs = [Document(f"id{i:03d}", f"text {i}", "s", i) for i in range(95)]
    with pipeline() as p:
        (
            p
            | beam.Create(docs)
            | WriteShards(
                str(tmp_path),
                "data",
                DOCUMENT_SCHEMA,
                document_row,
                lambda d: (d.id,),
                lambda d: 10,
                max_rows=20,
                max_bytes=10**9,
            )
        )
    files = sorted(tmp_path.glob("data-*.parquet"))
    tables = [pq.read_table(f) for f in files]
    assert all(0 < t.num_rows <= 20 for t in tables)
    assert sum(t.num_rows for t in tables) == 95
    for t in tables:
        ids = t.column("id").to_pylist()
        assert ids == sorted(ids)
        assert t.schema.equals(DOCUMENT_SCHEMA, check_metadata=False)
    assert not list(tmp_path.glob("*.inprogress"))
    assert json.loads(tables[0].column("meta")[0].as_py()) == {}
