"""FlagBias on conversations in a real Beam pipeline (FnApiRunner): toxicity and identity terms
counted per turn, drops that name the deciding turn, per-role stats, and the manifest's
``bias.roles`` report built from them. Every output asserted exactly."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from thresher.config import BiasConfig, IdentityToxicityConfig, PipelineConfig, ToxicityConfig
from thresher.plan import manifest_sections
from thresher.records import Document, Turn, chat_document
from thresher.stages._common import DEAD, FATES, MAIN, STATS
from thresher.stages.bias import FlagBias

POLITE = (
    "Let us keep this civil. The museum opens at nine on weekdays and at ten on Sundays, and "
    "the accessible entrance is on the north side of the building."
)


def conv(i: str, *pairs: tuple[str, str]) -> Document:
    return chat_document(i, "c.jsonl", int(i[1:]), tuple(Turn(r, c) for r, c in pairs))


RECORDS = [
    Document(
        id="d0", text="Many women and older adults came to the meeting.", source="d", position=0
    ),
    conv("c0", ("user", "When does the museum open, you idiot?"), ("assistant", POLITE)),
    conv(
        "c1",
        ("system", "You are a helpful assistant for Catholic parishes."),
        ("user", "Who comes to the Sunday lunch?"),
        ("assistant", "Mostly elderly women from the parish, and a few teenagers."),
    ),
    conv(
        "c2",
        ("user", "What do you think of the new neighbours?"),
        ("assistant", "Those immigrants are worthless scum."),
    ),
]
FLAG = BiasConfig(identity_toxicity=IdentityToxicityConfig(drop=True))


def test_conversations_flagged_per_turn_and_drops_name_the_turn():
    with TestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(RECORDS) | FlagBias(FLAG)
        assert_that(
            out[MAIN]
            | "Main"
            >> beam.Map(
                lambda d: (
                    d.id,
                    d.signals["toxicity_flag"],
                    d.signals["toxicity_terms"],
                    d.signals["identity_gender"],
                    d.messages == next(r for r in RECORDS if r.id == d.id).messages,
                )
            ),
            equal_to(
                [
                    ("d0", 0.0, 0.0, 1.0, True),
                    # 1 toxic term in the 7-word user turn: flagged, however long the answer
                    ("c0", 1.0, 1.0, 0.0, True),
                    ("c1", 0.0, 0.0, 1.0, True),
                ]
            ),
            label="Main",
        )
        assert_that(
            out[FATES]
            | "Fates"
            >> beam.Map(lambda f: (f.id, f.stage, f.reason, f.details["turn"], f.details["role"])),
            equal_to([("c2", "flag_bias", "toxic_identity_cooccurrence", 1, "assistant")]),
            label="Fates",
        )
        assert_that(out[DEAD], equal_to([]), label="Dead")
        assert_that(
            out[STATS] | "Roles" >> beam.Filter(lambda kv: kv[0].startswith("bias.role.")),
            equal_to(
                [
                    # kept conversations only (c2 was dropped); documents add none
                    ("bias.role.system.turns", 1),
                    ("bias.role.system.identity_terms", 1),
                    ("bias.role.system.group.religion.turns", 1),
                    ("bias.role.user.turns", 2),
                    ("bias.role.user.toxic_turns", 1),
                    ("bias.role.user.toxicity_terms", 1),
                    ("bias.role.assistant.turns", 2),
                    ("bias.role.assistant.identity_terms", 3),
                    ("bias.role.assistant.group.age.turns", 1),
                    ("bias.role.assistant.group.gender.turns", 1),
                ]
            ),
            label="RoleStats",
        )
        assert_that(
            out[STATS] | "Output" >> beam.Filter(lambda kv: kv[0].startswith("bias.output.")),
            equal_to(
                [
                    ("bias.output.records", 3),
                    ("bias.output.toxic_records", 1),
                    ("bias.output.group.gender.records", 2),
                    ("bias.output.group.age.records", 2),
                    ("bias.output.group.religion.records", 1),
                ]
            ),
            label="OutputStats",
        )


def test_a_toxicity_drop_names_the_first_toxic_turn():
    cfg = BiasConfig(toxicity=ToxicityConfig(drop=True))
    with TestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(RECORDS[1:2]) | FlagBias(cfg)
        assert_that(out[MAIN], equal_to([]), label="Main")
        assert_that(
            out[FATES] | beam.Map(lambda f: (f.id, f.reason, f.details["turn"], f.details["role"])),
            equal_to([("c0", "toxic_content", 0, "user")]),
            label="Fates",
        )


def test_manifest_bias_section_reports_roles():
    config = PipelineConfig(bias=FLAG)

    def roles(items):
        section = manifest_sections(config, dict(items))["bias"]
        return {
            role: (e["turns"], e["toxic_turns"], e["toxic_share"], e["identity_terms"])
            for role, e in section["roles"].items()
        }

    with TestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(RECORDS) | FlagBias(FLAG)
        got = out[STATS] | beam.combiners.ToList() | beam.Map(roles)
        assert_that(
            got,
            equal_to(
                [
                    {
                        "system": (1, 0, 0.0, 1),
                        "user": (2, 1, 0.5, 0),
                        "assistant": (2, 0, 0.0, 3),
                    }
                ]
            ),
        )
