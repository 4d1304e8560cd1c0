"""The recipe model: unknown keys, bad values, overrides, schema export (tier a)."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from thresher.config import PipelineConfig, load_config
from thresher.errors import ConfigError
from thresher.schema import SCHEMAS, schema_to_json

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path, text: str) -> Path:
    p = tmp_path / "r.yaml"
    p.write_text(text)
    return p


def test_default_recipe_is_valid_and_spells_out_every_section():
    cfg = load_config(REPO / "pipelines/default.yaml")
    raw = (REPO / "pipelines/default.yaml").read_text()
    for section in PipelineConfig.model_fields:
        assert f"\n{section}:" in "\n" + raw, f"default.yaml lacks section {section}"
    assert cfg.input.paths == ["sample_data/"]
    assert cfg.dedup.exact.enabled


def test_every_default_yaml_value_equals_the_model_default():
    """default.yaml documents the defaults: it must not silently differ from the code."""
    cfg = load_config(REPO / "pipelines/default.yaml").model_dump()
    defaults = PipelineConfig().model_dump()
    differing = {k for k in defaults if cfg[k] != defaults[k]}
    # The sample recipe maps the sample corpus' id field, skips its README and reads its
    # chat files as conversations.
    assert differing <= {"input"}
    assert {k for k in defaults["input"] if cfg["input"][k] != defaults["input"][k]} == {
        "id_field",
        "exclude",
        "per_file",
    }


@pytest.mark.parametrize(
    ("yaml_text", "needle"),
    [
        ("dedup:\n  exact:\n    enabld: true\n", "unknown recipe key 'dedup.exact.enabld'"),
        ("outptu:\n  path: x\n", "unknown recipe key 'outptu'"),
        ("output:\n  max_rows_per_shard: 0\n", "output.max_rows_per_shard"),
        ("input:\n  format: xml\n", "input.format"),
        ("limits:\n  max_dead_letter_fraction: 2\n", "limits.max_dead_letter_fraction"),
        ("input:\n  paths: []\n", "input.paths"),
        ("- a list\n", "mapping of sections"),
        ("input: [unclosed\n", "not valid YAML at line"),
        ("decontamination:\n  ngram: 0\n", "decontamination.ngram"),
        ("decontamination:\n  action: remove\n", "decontamination.action"),
        ("decontamination:\n  roles: [narrator]\n", "decontamination.roles.0"),
        (
            "decontamination:\n  benchmarks: [{name: a.b, paths: [x], fields: [q]}]\n",
            "decontamination.benchmarks.0.name",
        ),
        (
            "decontamination:\n  benchmarks: [{name: a, paths: [x], fields: [q, q]}]\n",
            "decontamination.benchmarks.0.fields",
        ),
        (
            "decontamination:\n  benchmarks: [{name: a, paths: [x], fields: [q], filed: 1}]\n",
            "unknown recipe key 'decontamination.benchmarks.0.filed'",
        ),
        ("decontamination:\n  benchmarks: [{name: a, paths: [], fields: [q]}]\n", ".paths"),
    ],
)
def test_bad_recipes_name_the_key(tmp_path, yaml_text, needle):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, yaml_text))
    assert needle in str(err.value)


def test_unknown_key_lists_valid_keys(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "dedup:\n  exact:\n    enabld: true\n"))
    assert "valid keys here: casefold, enabled, keep, key, strip_punctuation" in str(err.value)


def test_overrides_are_validated_and_applied(tmp_path):
    cfg = load_config(
        write(tmp_path, "output:\n  path: a\n"),
        ["output.path=b", "dedup.exact.casefold=true", "input.paths=[x, y]"],
    )
    assert cfg.output.path == "b" and cfg.dedup.exact.casefold and cfg.input.paths == ["x", "y"]
    with pytest.raises(ConfigError, match=r"dedup\.exact\.nope"):
        load_config(None, ["dedup.exact.nope=1"])
    with pytest.raises(ConfigError, match=r"expected dotted\.key=value"):
        load_config(None, ["output.path"])
    with pytest.raises(ConfigError, match="is not a section"):
        load_config(None, ["output.path=x", "output.path.deeper=1"])


@pytest.mark.parametrize(
    ("override", "syntax"),
    [
        ("filters.language.languages=en", "--set 'filters.language.languages=[en]'"),
        ("filters.language.languages=[en", "--set 'filters.language.languages=[en]'"),
        ("pii.entities=PERSON", "--set 'pii.entities=[PERSON, EMAIL_ADDRESS]'"),
        ("input.paths=data/a.jsonl", "--set 'input.paths=["),
    ],
)
def test_a_list_key_given_a_scalar_shows_the_list_syntax(override, syntax):
    """Issue 18: a list-valued --set error shows how to write a list."""
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    assert "this key takes a list" in str(err.value) and syntax in str(err.value)


def test_list_keys_that_take_one_value_and_lists_still_work():
    cfg = load_config(
        None,
        [
            "dedup.near.against=earlier",
            "filters.language.languages=[en, de]",
            "input.meta_fields=null",
        ],
    )
    assert cfg.dedup.near.against == ["earlier"]  # one path is accepted as it is
    assert cfg.filters.language.languages == ["en", "de"] and cfg.input.meta_fields is None
    with pytest.raises(ConfigError, match="valid boolean") as err:
        load_config(None, ["dedup.exact.casefold=maybe"])
    assert "takes a list" not in str(err.value)


def test_config_is_frozen_and_hash_is_stable():
    a, b = PipelineConfig(), PipelineConfig()
    assert a.recipe_hash() == b.recipe_hash()
    assert a.recipe_hash() != load_config(None, ["output.path=elsewhere"]).recipe_hash()
    with pytest.raises(ValidationError):
        a.output.path = "x"  # type: ignore[misc]


def test_exported_schemas_match_code():
    from thresher.config import recipe_json_schema

    for name, schema in SCHEMAS.items():
        on_disk = json.loads((REPO / "schemas" / f"{name}.parquet-schema.json").read_text())
        assert on_disk == schema_to_json(schema), f"schemas/{name} drifted: run `thresher schemas`"
    on_disk = json.loads((REPO / "schemas" / "recipe.schema.json").read_text())
    assert on_disk == recipe_json_schema(), (
        "schemas/recipe.schema.json drifted: run `thresher schemas`"
    )
    from thresher.output.manifest import manifest_json_schema

    on_disk = json.loads((REPO / "schemas" / "manifest.schema.json").read_text())
    assert on_disk == manifest_json_schema(), (
        "schemas/manifest.schema.json drifted: run `thresher schemas`"
    )


def test_the_default_recipe_points_to_docs_that_exist():
    """Issue 18: the default recipe pointed to docs/near-dedup.md, which did not exist."""
    import re

    text = (REPO / "pipelines" / "default.yaml").read_text(encoding="utf-8")
    named = sorted(set(re.findall(r"docs/[\w./-]+\.md", text)))
    assert {"docs/recipe-reference.md", "docs/recipes.md"} <= set(named)
    missing = [d for d in named if not (REPO / d).is_file()]
    assert missing == []


def test_local_batch_records_is_validated_and_kept_out_of_the_recipe_hash():
    with pytest.raises(ConfigError, match=r"local\.batch_records"):
        load_config(None, ["local.batch_records=0"])
    with pytest.raises(ConfigError, match=r"local\.batch_record'"):
        load_config(None, ["local.batch_record=5"])
    small = load_config(None, ["local.batch_records=5"])
    assert small.local.batch_records == 5
    assert load_config(None, ["local.batch_records=null"]).local.batch_records is None
    assert "local" not in small.recipe_dict()
    assert small.recipe_hash() == load_config().recipe_hash()
