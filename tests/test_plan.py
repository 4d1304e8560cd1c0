"""The stage plan: names and order from the recipe alone, without building any stage."""

from thresher.config import load_config
from thresher.plan import manifest_sections, stage_labels, stage_names, stage_plan
from thresher.stages import bias, erasures, exact_dedup, filters, near_dedup, normalize
from thresher.stages import pii as pii_stage


def test_default_order_and_names_match_the_stage_modules():
    plan = stage_plan(load_config(None, []))
    assert stage_names(plan) == [
        "read",
        normalize.STAGE,
        exact_dedup.STAGE,
        filters.LANGUAGE_STAGE,
        filters.QUALITY_STAGE,
        near_dedup.STAGE,
        pii_stage.STAGE,
        bias.STAGE,
    ]
    assert stage_labels(plan)[0] == "ReadCorpus"


def test_planning_builds_nothing():
    # Building AnonymizePii resolves its key source and fails on a missing variable;
    # planning the same recipe must not.
    cfg = load_config(None, ["pii.key_env=THRESHER_TEST_NO_SUCH_VARIABLE"])
    names = [s.name for s in stage_plan(cfg)]
    assert pii_stage.STAGE in names


def test_disabled_stages_are_not_planned_and_erasures_come_first():
    cfg = load_config(None, ["filters.enabled=false", "pii.enabled=false", "bias.enabled=false"])
    assert [s.name for s in stage_plan(cfg)] == [
        normalize.STAGE,
        exact_dedup.STAGE,
        near_dedup.STAGE,
    ]
    carried = stage_plan(cfg, {"r1": ("erased", "t")})
    assert carried[0].name == erasures.STAGE


def test_sections_come_from_the_planned_stages_only():
    assert (
        manifest_sections(load_config(None, ["pii.enabled=false", "bias.enabled=false"]), {}) == {}
    )


def test_the_chat_rules_alone_keep_the_quality_stage():
    web_off = [
        f"filters.{n}.enabled=false"
        for n in ("length", "gopher_repetition", "gopher_quality", "c4", "fineweb")
    ]
    assert filters.QUALITY_STAGE in stage_names(stage_plan(load_config(None, web_off)))
    off = load_config(None, [*web_off, "filters.chat.enabled=false"])
    assert filters.QUALITY_STAGE not in stage_names(stage_plan(off))
