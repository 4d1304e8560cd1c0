"""``AnonymizePii`` in a real Beam pipeline (FnApiRunner), outputs asserted exactly."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from thresher import allocator
from thresher.config import PiiConfig
from thresher.records import Document
from thresher.stages.pii import AnonymizePii

from .conftest import TEST_KEY

DOCS = [
    Document(
        id="a",
        text="Mail ann.lee@example.org or call (212) 555-0134.",
        source="s",
        position=0,
        meta={"author_email": "bob@corp.com", "user_id": 42, "note": "fine"},
    ),
    Document(
        id="b",
        text="Nothing personal in here at all.",
        source="s",
        position=1,
        meta={"author_email": "carol@corp.com", "user_id": 43, "note": "ok"},
    ),
]


def test_anonymize_pii_stage(tmp_path):
    key = tmp_path / "pii.key"
    key.write_bytes(TEST_KEY)
    cfg = PiiConfig(key_file=str(key), fields={"user_id": "hash", "note": "drop"}, batch_size=2)
    options = PipelineOptions(["--runner=FnApiRunner"])
    with TestPipeline(options=options) as p:
        out = p | beam.Create(DOCS) | AnonymizePii(cfg)
        texts = out["main"] | "Texts" >> beam.Map(lambda d: (d.id, d.text))
        metas = out["main"] | "Metas" >> beam.Map(
            lambda d: (d.id, d.meta["author_email"], "note" in d.meta, len(d.meta["user_id"]))
        )
        kinds = out["main"] | "Kinds" >> beam.Map(
            lambda d: (d.id, tuple((f.field, f.entity_type, f.operator) for f in d.pii))
        )
        spans = out["main"] | "Spans" >> beam.FlatMap(
            lambda d: [d.text[f.start : f.end] for f in d.pii if f.field is None]
        )
        assert_that(
            texts,
            equal_to(
                [
                    ("a", "Mail <EMAIL_ADDRESS> or call <PHONE_NUMBER>."),
                    ("b", "Nothing personal in here at all."),
                ]
            ),
            label="CheckTexts",
        )
        assert_that(
            metas,
            equal_to(
                [
                    ("a", "<EMAIL_ADDRESS>", False, 32),
                    ("b", "<EMAIL_ADDRESS>", False, 32),
                ]
            ),
            label="CheckMeta",
        )
        assert_that(
            kinds,
            equal_to(
                [
                    (
                        "a",
                        (
                            (None, "EMAIL_ADDRESS", "placeholder"),
                            (None, "PHONE_NUMBER", "placeholder"),
                            ("meta.author_email", "EMAIL_ADDRESS", "placeholder"),
                        ),
                    ),
                    ("b", (("meta.author_email", "EMAIL_ADDRESS", "placeholder"),)),
                ]
            ),
            label="CheckFindings",
        )
        assert_that(spans, equal_to(["<EMAIL_ADDRESS>", "<PHONE_NUMBER>"]), label="CheckSpans")
        assert_that(out["fates"], equal_to([]), label="NoFates")
        assert_that(out["dead_letter"], equal_to([]), label="NoDeadLetters")
        stats = out["stats"] | beam.CombinePerKey(sum)
        assert_that(
            stats
            | beam.Filter(
                lambda kv: (
                    kv[0].startswith("pii.entity.")
                    or kv[0]
                    in (
                        "pii.documents",
                        "pii.documents_with_pii",
                        "pii.fields_hashed",
                        "pii.fields_dropped",
                    )
                )
            ),
            equal_to(
                [
                    ("pii.entity.EMAIL_ADDRESS", 3),
                    ("pii.entity.PHONE_NUMBER", 1),
                    ("pii.documents", 2),
                    ("pii.documents_with_pii", 2),
                    ("pii.fields_hashed", 2),
                    ("pii.fields_dropped", 2),
                ]
            ),
            label="CheckStats",
        )


def _in_worker_and_frozen(doc: Document) -> tuple[bool, bool, int, bool]:
    import gc
    import sys

    from thresher import allocator
    from thresher.stages import pii
    from thresher.worker import BEAM_WORKER

    main = getattr(sys.modules["__main__"], "__spec__", None)
    in_worker = getattr(main, "name", None) == BEAM_WORKER
    return (in_worker, gc.get_freeze_count() > 0, len(pii._RESIDENT), allocator.kept())


def test_workers_freeze_the_models_and_the_launcher_does_not(tmp_path):
    """Beam's SDK worker processes keep the one PII processor they build and move it out of
    the collector's reach (fast exit), and keep the heap memory they free
    (``thresher.allocator``); an in-process runner, which builds a processor per pipeline
    and may live in a user's process, must do neither."""
    import gc

    key = tmp_path / "pii.key"
    key.write_bytes(TEST_KEY)
    cfg = PiiConfig(key_file=str(key), batch_size=2)
    before = gc.get_freeze_count()
    for args, expected in [
        ([], (False, False, 0, False)),
        (
            ["--direct_num_workers=2", "--direct_running_mode=multi_processing"],
            (True, True, 1, allocator.glibc()),
        ),
    ]:
        options = PipelineOptions(["--runner=FnApiRunner", *args])
        with TestPipeline(options=options) as p:
            out = p | beam.Create(DOCS) | AnonymizePii(cfg)
            seen = out["main"] | beam.Map(_in_worker_and_frozen) | beam.Distinct()
            assert_that(seen, equal_to([expected]))
    assert gc.get_freeze_count() == before


def test_a_document_that_fails_is_one_dead_letter_and_its_batch_goes_on(tmp_path):
    """The stage's own dead letters (a document the processor cannot take) travel on the
    output Beam's failure records share; the rest of the batch is anonymized."""
    key = tmp_path / "pii.key"
    key.write_bytes(TEST_KEY)
    cfg = PiiConfig(key_file=str(key), batch_size=3)
    bad = Document(id="bad", text=None, source="s", position=2)  # type: ignore[arg-type]
    with TestPipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        out = p | beam.Create([*DOCS, bad]) | AnonymizePii(cfg)
        assert_that(out["main"] | "Ids" >> beam.Map(lambda d: d.id), equal_to(["a", "b"]))
        assert_that(
            out["dead_letter"]
            | "Dead"
            >> beam.Map(lambda d: (d.id, d.stage, d.position, d.message.startswith("unexpected"))),
            equal_to([("bad", "pii", 2, True)]),
            label="Dead",
        )
