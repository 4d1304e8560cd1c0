"""Issue 18's launch and output cases, each reproduced through the real CLI: what a rerun keeps,
where the recipe may stand, ids of dead letters, errors before anything runs, the packaged
default recipe, and dead-letter failures that say why."""

import json
import os
from pathlib import Path

import pytest

from tests.conftest import REPO, load_manifest, read_parquet_dir, run_cli

LIGHT = [  # the spine only: these cases are about launching and books, not about stages
    "--set",
    "pii.enabled=false",
    "--set",
    "dedup.near.enabled=false",
    "--set",
    "filters.enabled=false",
    "--set",
    "bias.enabled=false",
]


def _texts(n: int) -> list[str]:
    return [
        f"Record number {i} talks about topic {i * 7} in a sentence of its own." for i in range(n)
    ]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _lineage(out: Path) -> dict[str, dict]:
    return {r["id"]: r for r in read_parquet_dir(out / "lineage")}


# --- 1. a rerun keeps the privacy ledger and the erasures -------------------------------------


def test_overwrite_keeps_ledger_and_erasures_and_erased_records_stay_out(tmp_path):
    texts = _texts(5)
    rows = [{"id": f"r{i}", "text": t} for i, t in enumerate(texts)]
    rows.append({"id": "r2-copy", "text": texts[2]})  # exact duplicate of r2
    src = _jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out"
    args = ["run", "--input", str(src), "--output", str(out), "--quiet", *LIGHT]
    assert run_cli(*args).returncode == 0
    first_hash = __import__("hashlib").sha256((out / "manifest.json").read_bytes()).hexdigest()
    ledger = [
        {
            "run_id": "run-1",
            "epsilon": 3.0,
            "delta": 1e-5,
            "unit": "record",
            "dataset_manifest_sha256": first_hash,
            "status": "completed",
        }
    ]
    (out / "privacy_ledger.json").write_text(json.dumps(ledger))
    ledger_bytes = (out / "privacy_ledger.json").read_bytes()
    (tmp_path / "ids.txt").write_text("r2\n")
    forgot = run_cli("forget", str(out), "--ids", str(tmp_path / "ids.txt"))
    assert forgot.returncode == 0, forgot.stderr
    receipts = sorted((out / "erasure").glob("*.json"))
    assert len(receipts) == 1

    rerun = run_cli(*args, "--overwrite")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert (out / "privacy_ledger.json").read_bytes() == ledger_bytes
    assert sorted((out / "erasure").glob("*.json")) == receipts
    kept = {r["id"] for r in read_parquet_dir(out / "data")}
    assert kept == {"r0", "r1", "r3", "r4"}
    lineage = _lineage(out)
    assert (lineage["r2"]["fate"], lineage["r2"]["stage"], lineage["r2"]["reason"]) == (
        "dropped",
        "forget",
        "erased",
    )
    assert lineage["r2-copy"]["reason"] == "erased_duplicate"
    m = load_manifest(out)
    assert m["accounting"]["balanced"] and m["counts"]["input"] == 6
    assert first_hash in m["previous_manifest_hashes"]
    assert [e["receipt"] for e in m["erasures"]] == [f"erasure/{receipts[0].name}"]
    # the ledger's run on the earlier data still counts against this output
    dry = run_cli("forget", str(out), "--ids", str(tmp_path / "ids.txt"), "--dry-run")
    assert dry.returncode == 0


def test_forget_lists_finetune_runs_on_the_data_through_earlier_manifests(tmp_path):
    from thresher.forget import plan_erasure

    src = _jsonl(
        tmp_path / "in.jsonl", [{"id": f"r{i}", "text": t} for i, t in enumerate(_texts(3))]
    )
    out = tmp_path / "out"
    assert (
        run_cli("run", "--input", str(src), "--output", str(out), "--quiet", *LIGHT).returncode == 0
    )
    digest = __import__("hashlib").sha256((out / "manifest.json").read_bytes()).hexdigest()
    (out / "privacy_ledger.json").write_text(
        json.dumps([{"run_id": "run-1", "epsilon": 2.0, "dataset_manifest_sha256": digest}])
    )
    plan = plan_erasure(str(out), ids=["r1"])
    assert [r["run_id"] for r in plan.ledger_runs] == ["run-1"]


# --- 2. the recipe wherever it stands; strays are errors ---------------------------------------


def test_recipe_after_options_is_used_and_strays_are_errors(tmp_path):
    src = _jsonl(tmp_path / "in.jsonl", [{"text": t} for t in _texts(3)])
    recipe = tmp_path / "mine.yaml"
    recipe.write_text(f"input:\n  paths: [{src}]\npii:\n  enabled: false\n")
    out = tmp_path / "out"
    proc = run_cli("run", "--quiet", str(recipe), "--output", str(out), *LIGHT[2:])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert load_manifest(out)["recipe_path"] == str(recipe)
    stray = run_cli("run", str(recipe), "extra.yaml", "--output", str(tmp_path / "o2"))
    assert stray.returncode == 2 and "unexpected argument" in stray.stderr
    assert not (tmp_path / "o2").exists()


# --- 3. dead letters keep the source's id --------------------------------------------------------


def test_dead_letter_keeps_the_source_id_and_explain_finds_both_ids(tmp_path):
    from thresher.records import derived_id

    src = tmp_path / "in.csv"
    src.write_text("id,text\ndoc-001,A first body of text that is fine.\ndoc-024,\n")
    out = tmp_path / "out"
    proc = run_cli(
        "run",
        "--input",
        str(src),
        "--output",
        str(out),
        "--quiet",
        *LIGHT,
        "--set",
        "limits.max_dead_letter_fraction=1",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dead = read_parquet_dir(out / "dead_letter")
    assert [(d["id"], d["error_type"]) for d in dead] == [("doc-024", "empty_text")]
    assert _lineage(out)["doc-024"]["fate"] == "dead_letter"
    assert "empty_text" in run_cli("explain", str(out), "doc-024").stdout
    derived = derived_id(dead[0]["source"], dead[0]["position"])
    story = run_cli("explain", str(out), derived, "--json")
    assert story.returncode == 0 and json.loads(story.stdout)["record"]["id"] == "doc-024"


def test_a_broken_record_never_takes_a_good_records_id(tmp_path):
    src = _jsonl(
        tmp_path / "in.jsonl",
        [{"id": "same", "text": ""}, {"id": "same", "text": "Fine text here."}],
    )
    out = tmp_path / "out"
    proc = run_cli(
        "run",
        "--input",
        str(src),
        "--output",
        str(out),
        "--quiet",
        *LIGHT,
        "--set",
        "limits.max_dead_letter_fraction=1",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [r["id"] for r in read_parquet_dir(out / "data")] == ["same"]
    (dead,) = read_parquet_dir(out / "dead_letter")
    assert dead["id"] != "same" and dead["error_type"] == "empty_text"
    assert load_manifest(out)["accounting"]["balanced"]


# --- 4. errors before anything runs ------------------------------------------------------------


def test_output_that_is_a_file_and_unknown_runner_fail_before_anything_is_created(tmp_path):
    afile = tmp_path / "taken.txt"
    afile.write_text("mine")
    proc = run_cli("run", "--output", str(afile), "--quiet")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "is a file" in proc.stderr
    assert afile.read_text() == "mine"
    out = tmp_path / "never"
    proc = run_cli("run", "--output", str(out), "--quiet", "--runner", "NoSuchRunner")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "NoSuchRunner" in proc.stderr
    assert not out.exists()


# --- 5. the default recipe ships inside the package ----------------------------------------------


def test_packaged_default_recipe_is_pipelines_default():
    from importlib import resources

    packaged = (resources.files("thresher") / "data" / "default.yaml").read_text()
    assert packaged == (REPO / "pipelines" / "default.yaml").read_text(), (
        "src/thresher/data/default.yaml differs from pipelines/default.yaml: copy one over "
        "the other"
    )


def test_run_outside_the_repository_uses_the_packaged_recipe(tmp_path):
    src = _jsonl(tmp_path / "my.jsonl", [{"text": t} for t in _texts(3)])
    proc = run_cli("run", "--input", str(src), "--output", "out", "--quiet", *LIGHT, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert load_manifest(tmp_path / "out")["counts"]["kept"] == 3
    printed = run_cli("recipe", cwd=tmp_path)
    assert printed.stdout == (REPO / "pipelines" / "default.yaml").read_text()
    assert run_cli("recipe", "--write", "r.yaml", cwd=tmp_path).returncode == 0
    assert (tmp_path / "r.yaml").read_text() == printed.stdout
    again = run_cli("recipe", "--write", "r.yaml", cwd=tmp_path)
    assert again.returncode == 2 and "exists" in again.stderr


# --- 6. a dead-letter failure says why --------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "hint"),
    [
        ({"body": "Some words."}, "string fields present: body"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "looks like chat data"),
    ],
)
def test_all_dead_letters_name_the_top_reason_and_a_fix(tmp_path, row, hint):
    src = _jsonl(tmp_path / "in.jsonl", [row] * 12)
    proc = run_cli("run", "--input", str(src), "--output", str(tmp_path / "out"), "--quiet", *LIGHT)
    assert proc.returncode == 1
    assert "missing_text: 12" in proc.stderr and hint in proc.stderr
    assert "Some words" not in proc.stderr and "hi" not in proc.stderr.split("chat data")[0][-40:]


# --- small ----------------------------------------------------------------------------------------


def test_validate_checks_that_input_paths_match_files(tmp_path):
    ok = run_cli("validate", "pipelines/default.yaml")
    assert ok.returncode == 0 and "file(s)" in ok.stdout
    bad = run_cli("validate", "pipelines/default.yaml", "--input", str(tmp_path / "none*.jsonl"))
    assert bad.returncode == 2 and "matches no file" in bad.stderr


def test_stage_table_columns_fit_the_longest_stage_name(sample_run):
    out, proc = sample_run
    names = {"stage", *(r["stage"] for r in load_manifest(out)["stages"])}
    table = [line for line in proc.stderr.splitlines() if line.split() and line.split()[0] in names]
    assert len({len(line) for line in table}) == 1, table
    assert os.path.getsize(out / "manifest.json") > 0
