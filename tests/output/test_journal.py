"""``journal.changes``: what makes a rerun a different run (recipe keys with both values,
input files added, removed, resized or modified), and nothing when both are the same."""

from thresher.config import PipelineConfig
from thresher.io.read import InputFile
from thresher.output import journal


def _journal(recipe, inputs):
    return journal.Journal(
        fingerprint=journal.fingerprint(recipe, inputs),
        recipe=recipe,
        inputs=inputs,
        batch_records=10,
        positions=30,
        batches=[[("a", 0, 10, 0)], [("a", 10, 20, 55)], [("a", 20, None, 110)]],
    )


def test_same_recipe_and_inputs_have_no_changes(tmp_path):
    (tmp_path / "a.jsonl").write_text("{}\n")
    files = [InputFile(str(tmp_path / "a.jsonl"), 3)]
    recipe = PipelineConfig().model_dump(mode="json")
    inputs = journal.describe_inputs(files)
    assert inputs[0].modified is not None
    assert journal.changes(_journal(recipe, inputs), recipe, journal.describe_inputs(files)) == []


def test_changes_name_recipe_keys_and_input_files(tmp_path):
    for name in ("a.jsonl", "b.jsonl", "c.jsonl"):
        (tmp_path / name).write_text("{}\n")
    old_files = [InputFile(str(tmp_path / n), 3) for n in ("a.jsonl", "b.jsonl", "c.jsonl")]
    old = _journal(PipelineConfig().model_dump(mode="json"), journal.describe_inputs(old_files))
    (tmp_path / "d.jsonl").write_text("{}\n")
    new_files = [
        InputFile(str(tmp_path / "a.jsonl"), 3),
        InputFile(str(tmp_path / "b.jsonl"), 4),
        InputFile(str(tmp_path / "d.jsonl"), 3),
    ]
    recipe = PipelineConfig.model_validate(
        {"dedup": {"near": {"threshold": 0.7}}, "local": {"batch_records": 5}}
    ).model_dump(mode="json")
    found = journal.changes(old, recipe, journal.describe_inputs(new_files))
    assert found == [
        "recipe key dedup.near.threshold: 0.8 -> 0.7",
        "recipe key local.batch_records: 10000 -> 5",
        f"input file removed: {tmp_path / 'c.jsonl'}",
        f"input file added: {tmp_path / 'd.jsonl'}",
        f"input file changed size: {tmp_path / 'b.jsonl'} (3 -> 4 bytes)",
    ]
