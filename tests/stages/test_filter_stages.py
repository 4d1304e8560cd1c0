"""FilterLowQuality -> FilterLanguage -> FlagBias in a real Beam pipeline (FnApiRunner):
every output asserted exactly (main, fates, dead letters, stats), in drop and annotate mode."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from thresher.config import (
    BiasConfig,
    FiltersConfig,
    GopherQualityConfig,
    IdentityToxicityConfig,
)
from thresher.core.language import BACKENDS
from thresher.records import Document
from thresher.stages._common import DEAD, FATES, MAIN, STATS
from thresher.stages.bias import FlagBias
from thresher.stages.filters import FilterLanguage, FilterLowQuality

PROSE = [
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
GERMAN = [
    "Der Ausschuss prüfte den Vorschlag und fand, dass er Vorzüge hatte, obwohl mehrere "
    "Mitglieder Bedenken wegen der Kosten der neuen Brücke äußerten.",
    "Nach einer langen Diskussion vereinbarten sie, die Frage im nächsten Monat mit besseren "
    "Daten und einem klareren Plan erneut zu prüfen.",
    "Der Vorsitzende dankte allen für ihre Zeit und bat die Mitarbeiter, vor der nächsten "
    "Sitzung eine Zusammenfassung der Möglichkeiten vorzubereiten.",
    "Anwohner am Fluss sagten, sie würden jeden Plan begrüßen, der die Gefahr von "
    "Überschwemmungen im Frühjahr verringert.",
    "Mehrere örtliche Firmen haben angeboten, bei der Umfrage zu helfen, und der Rat will die "
    "Ergebnisse Anfang nächsten Jahres veröffentlichen.",
]
MENU = ["Home", "Shop", "Blog", "Help"]
WOMEN = "Many women and older adults from the town came to the meeting to speak."
HATE = "Those immigrants are worthless scum and nobody in the town wants them here."


def doc(i: str, text) -> Document:
    return Document(id=i, text=text, source="s.jsonl", position=int(i[1:]))


DOCS = [
    doc("d0", "\n".join([*PROSE, WOMEN])),  # kept
    doc("d1", "\n".join([*PROSE, *MENU])),  # kept, C4 removes the menu lines
    doc("d2", "Click here to read the full story"),  # gopher_top_2_gram
    doc("d3", "\n".join(GERMAN)),  # language_not_allowed (stop-word rule off in this recipe)
    doc("d4", "\n".join([*PROSE, HATE])),  # toxic_identity_cooccurrence
    doc("d5", None),  # not a text: dead letter at the first stage
]
FILTERS = FiltersConfig(gopher_quality=GopherQualityConfig(min_stop_words=None))
BIAS = BiasConfig(identity_toxicity=IdentityToxicityConfig(drop=True))


def chain(p, filters: FiltersConfig, bias: BiasConfig):
    docs = p | beam.Create(DOCS)
    q = docs | "Q" >> FilterLowQuality(filters)
    lang = q[MAIN] | "L" >> FilterLanguage(filters.language, filters.mode == "annotate")
    b = lang[MAIN] | "B" >> FlagBias(bias)
    fates = (q[FATES], lang[FATES], b[FATES]) | "Fates" >> beam.Flatten()
    dead = (q[DEAD], lang[DEAD], b[DEAD]) | "Dead" >> beam.Flatten()
    stats = (q[STATS], lang[STATS], b[STATS]) | "Stats" >> beam.Flatten()
    return b[MAIN], fates, dead, stats


def _main_view(d: Document):
    s = d.signals
    return (
        d.id,
        d.text,
        d.modifications,
        d.language,
        d.language_score is not None and d.language_score > 0.9,
        s["identity_gender"],
        s["identity_age"],
        s["toxicity_terms"],
        s["toxicity_flag"],
        "gopher_word_count" in s and "c4_sentences" in s and "fineweb_list_ratio" in s,
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_chain_drop_mode_outputs_exactly(backend):
    language = FILTERS.language.model_copy(update={"backend": backend})
    with TestPipeline(runner="FnApiRunner") as p:
        main, fates, dead, stats = chain(p, FILTERS.model_copy(update={"language": language}), BIAS)
        assert_that(
            main | "MainView" >> beam.Map(_main_view),
            equal_to(
                [
                    ("d0", "\n".join([*PROSE, WOMEN]), (), "en", True, 1.0, 1.0, 0.0, 0.0, True),
                    (
                        "d1",
                        "\n".join(PROSE),
                        ("c4_remove_lines",),
                        "en",
                        True,
                        0.0,
                        0.0,
                        0.0,
                        0.0,
                        True,
                    ),
                ]
            ),
            label="Main",
        )
        assert_that(
            fates | "FateView" >> beam.Map(lambda f: (f.id, f.fate, f.stage, f.reason)),
            equal_to(
                [
                    ("d2", "dropped", "filter_quality", "gopher_top_2_gram"),
                    ("d3", "dropped", "filter_language", "language_not_allowed"),
                    ("d4", "dropped", "flag_bias", "toxic_identity_cooccurrence"),
                ]
            ),
            label="Fates",
        )
        assert_that(
            fates | "DetailView" >> beam.Map(_detail_view),
            equal_to(
                [
                    ("d2", "gopher_repetition", 10 / 33, 0.2, True),  # "full story"
                    ("d3", "de", None, 0.65, True),
                    ("d4", None, 2.0, 1, True),
                ]
            ),
            label="Details",
        )
        assert_that(
            dead | "DeadView" >> beam.Map(lambda d: (d.id, d.stage, d.error_type)),
            equal_to([("d5", "filter_quality", "AttributeError")]),
            label="Dead",
        )
        assert_that(
            stats | "Watched" >> beam.Filter(lambda kv: kv[0] in _WATCHED),
            equal_to(EXPECTED_STATS),
            label="Stats",
        )


def _detail_view(f):
    d = f.details
    if f.stage == "filter_quality":
        return (f.id, d["rule_set"], d["value"], d["threshold"], "signals" in d)
    if f.stage == "filter_language":
        return (f.id, d["language"], None, d["min_confidence"], d["language_score"] > 0.5)
    s = d["signals"]
    return (
        f.id,
        None,
        s["toxic_identity_cooccurrences"],
        d["min_cooccurrences"],
        s["identity_ethnicity_nationality"] == 1.0,
    )


_WATCHED = {
    # every record that reached the quality filters, dropped or not (d5 never got that far)
    "bias.filter.low_quality.records": 5,
    "bias.filter.low_quality.removed": 1,
    "bias.filter.gopher_repetition.records": 5,
    "bias.filter.gopher_repetition.removed": 1,
    "bias.filter.gopher_quality.records": 4,
    "bias.filter.low_quality.group.gender.records": 1,
    "bias.filter.low_quality.group.ethnicity_nationality.records": 1,
    "bias.filter.language.records": 4,
    "bias.filter.language.removed": 1,
    "bias.filter.language.group.ethnicity_nationality.records": 1,
    "bias.filter.toxicity.records": 3,
    "bias.filter.toxicity.removed": 1,
    "bias.filter.toxicity.group.ethnicity_nationality.removed": 1,
    "bias.filter.identity_toxicity.records": 3,
    "bias.filter.identity_toxicity.removed": 1,
    "bias.output.records": 2,
    "bias.output.group.gender.records": 1,
    "bias.output.group.age.records": 1,
}
EXPECTED_STATS = sorted(_WATCHED.items())


def test_chain_annotate_mode_keeps_everything():
    annotate = FILTERS.model_copy(update={"mode": "annotate"})
    with TestPipeline(runner="FnApiRunner") as p:
        main, fates, dead, stats = chain(p, annotate, BiasConfig())
        assert_that(
            main
            | "View"
            >> beam.Map(
                lambda d: (
                    d.id,
                    d.modifications,
                    d.language,
                    d.signals["gopher_repetition_pass"],
                    d.signals["c4_pass"],
                    d.signals["language_pass"],
                )
            ),
            equal_to(
                [
                    ("d0", (), "en", 1.0, 1.0, 1.0),
                    ("d1", (), "en", 1.0, 1.0, 1.0),  # annotate never rewrites
                    ("d2", (), "en", 0.0, 0.0, 1.0),
                    ("d3", (), "de", 1.0, 1.0, 0.0),
                    ("d4", (), "en", 1.0, 1.0, 1.0),
                ]
            ),
        )
        assert_that(fates, equal_to([]), label="NoFates")
        assert_that(dead | "DeadIds" >> beam.Map(lambda d: d.id), equal_to(["d5"]), label="D")
        # annotate counts what each filter would remove, for every record at every filter
        assert_that(
            stats
            | beam.Filter(
                lambda kv: (
                    kv[0]
                    in (
                        "bias.filter.gopher_quality.records",
                        "bias.filter.language.records",
                        "bias.filter.language.removed",
                        "bias.filter.c4.removed",
                    )
                )
            ),
            equal_to(
                [
                    ("bias.filter.gopher_quality.records", 5),
                    ("bias.filter.language.records", 5),
                    ("bias.filter.language.removed", 1),
                    ("bias.filter.c4.removed", 1),
                ]
            ),
            label="Stats",
        )


def test_stats_sum_to_a_disparity_report():
    """The stage stats, summed, are what the manifest's disparity report is computed from."""
    from thresher.core.bias import disparity_report

    def summary(items):
        report = disparity_report(dict(items), bound=1.25, min_group_size=1, confidence=0)
        lang = report["filters"]["language"]
        tox = report["filters"]["toxicity"]["groups"]["ethnicity_nationality"]
        return (lang["records"], lang["removed"], lang["removal_rate"]), tox

    with TestPipeline(runner="FnApiRunner") as p:
        _, _, _, stats = chain(p, FILTERS, BIAS)
        got = (
            stats
            | "Sum" >> beam.CombinePerKey(sum)
            | "All" >> beam.combiners.ToList()
            | "Report" >> beam.Map(summary)
        )
        tox = {
            "records": 1,
            "removed": 1,
            "removal_rate": 1.0,
            "rate_lower": 0.0,
            "ratio": 3.0,
            "significant": True,
            "flagged": True,
        }
        assert_that(got, equal_to([((4, 1, 0.25), tox)]))


@pytest.mark.parametrize("mode", ["drop", "annotate"])
def test_quality_stage_never_loses_a_record(mode):
    cfg = FiltersConfig(mode=mode)
    with TestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create(DOCS) | FilterLowQuality(cfg)
        ids = (
            out[MAIN] | "M" >> beam.Map(lambda d: d.id),
            out[FATES] | "F" >> beam.Map(lambda f: f.id),
            out[DEAD] | "D" >> beam.Map(lambda d: d.id),
        ) | beam.Flatten()
        assert_that(ids, equal_to([d.id for d in DOCS]))
