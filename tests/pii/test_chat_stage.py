"""``AnonymizePii`` on conversations in a real Beam pipeline (FnApiRunner), outputs exact."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from thresher.config import PiiConfig
from thresher.records import Document, Turn, chat_document, render_turns
from thresher.stages.pii import AnonymizePii

from .conftest import TEST_KEY

RECORDS = [
    chat_document(
        "c1",
        "s",
        0,
        (
            Turn("system", "You are a resume assistant."),
            Turn("user", "Hi, my name is Aantje Mourik. Mail me at aantje.mourik@postbox.org."),
            Turn("assistant", "Happy to help, Aantje. Here is a draft. Put Mourik in the header."),
        ),
    ),
    chat_document(
        "c2",
        "s",
        1,
        (
            Turn("user", "Call me on (212) 555-0134 tomorrow."),
            Turn("assistant", "Noted: (212) 555-0134."),
        ),
    ),
    Document(id="d", text="Mail ann.lee@example.org today.", source="s", position=2),
]


def test_anonymize_pii_on_conversations(tmp_path):
    key = tmp_path / "pii.key"
    key.write_bytes(TEST_KEY)
    cfg = PiiConfig(key_file=str(key), operators={"PHONE_NUMBER": "hash"}, batch_size=3)
    options = PipelineOptions(["--runner=FnApiRunner"])
    with TestPipeline(options=options) as p:
        out = p | beam.Create(RECORDS) | AnonymizePii(cfg)
        turns = out["main"] | "Turns" >> beam.Map(
            lambda d: (d.id, tuple((t.role, t.content) for t in d.messages), d.text)
        )
        findings = out["main"] | "Findings" >> beam.Map(
            lambda d: (d.id, tuple((f.field, f.entity_type, f.start, f.end) for f in d.pii))
        )
        # the same phone number has the same keyed hash in both turns
        hashes = out["main"] | "Hashes" >> beam.FlatMap(
            lambda d: [
                d.messages[int(f.field.split(".")[1])].content[f.start : f.end]
                for f in d.pii
                if f.operator == "hash"
            ]
        )
        c1 = (
            ("system", "You are a resume assistant."),
            ("user", "Hi, my name is <PERSON>. Mail me at <EMAIL_ADDRESS>."),
            ("assistant", "Happy to help, <PERSON>. Here is a draft. Put <PERSON> in the header."),
        )
        phone = "<PHONE_NUMBER:" + _hash_of("(212) 555-0134") + ">"
        c2 = (("user", f"Call me on {phone} tomorrow."), ("assistant", f"Noted: {phone}."))
        assert_that(
            turns,
            equal_to(
                [
                    ("c1", c1, render_turns(tuple(Turn(r, c) for r, c in c1))),
                    ("c2", c2, render_turns(tuple(Turn(r, c) for r, c in c2))),
                    ("d", (), "Mail <EMAIL_ADDRESS> today."),
                ]
            ),
            label="CheckTurns",
        )
        assert_that(
            findings,
            equal_to(
                [
                    (
                        "c1",
                        (
                            ("messages.1", "PERSON", 15, 23),
                            ("messages.1", "EMAIL_ADDRESS", 36, 51),
                            ("messages.2", "PERSON", 15, 23),
                            ("messages.2", "PERSON", 46, 54),
                        ),
                    ),
                    (
                        "c2",
                        (
                            ("messages.0", "PHONE_NUMBER", 11, 11 + len(phone)),
                            ("messages.1", "PHONE_NUMBER", 7, 7 + len(phone)),
                        ),
                    ),
                    ("d", ((None, "EMAIL_ADDRESS", 5, 20),)),
                ]
            ),
            label="CheckFindings",
        )
        assert_that(hashes, equal_to([phone, phone]), label="CheckHashes")
        assert_that(out["fates"], equal_to([]), label="NoFates")
        assert_that(out["dead_letter"], equal_to([]), label="NoDeadLetters")
        stats = out["stats"] | beam.CombinePerKey(sum)
        assert_that(
            stats
            | beam.Filter(
                lambda kv: kv[0].startswith(("pii.entity.", "pii.role.", "pii.documents"))
            ),
            equal_to(
                [
                    ("pii.entity.PERSON", 3),
                    ("pii.entity.EMAIL_ADDRESS", 2),
                    ("pii.entity.PHONE_NUMBER", 2),
                    ("pii.role.user.PERSON", 1),
                    ("pii.role.user.EMAIL_ADDRESS", 1),
                    ("pii.role.assistant.PERSON", 2),
                    ("pii.role.user.PHONE_NUMBER", 1),
                    ("pii.role.assistant.PHONE_NUMBER", 1),
                    ("pii.documents", 3),
                    ("pii.documents_with_pii", 3),
                ]
            ),
            label="CheckStats",
        )


def _hash_of(value: str) -> str:
    from thresher.pii.keys import PiiKeys
    from thresher.pii.operators import value_hmac

    return value_hmac(PiiKeys(master=TEST_KEY), "PHONE_NUMBER", value)[:16]
