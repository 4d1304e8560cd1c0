"""thresher forget: erasure of a data subject by value (keyed hashes) or by ids, atomically."""

import hashlib
import json
import random
import shutil
from pathlib import Path

import pytest
from benchmarks.corpus import document

from tests.conftest import load_manifest, read_parquet_dir, run_cli

VALUE = "jane.doe@example.com"
KEY = {"THRESHER_TEST_PII_KEY": "0123456789abcdef0123456789abcdef"}


def _tree_digest(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("forget")
    rng = random.Random(5)
    docs = [{"id": f"d{i}", "text": document(rng, 120, 200)} for i in range(12)]
    docs[1]["text"] = f"Please write to {VALUE} about the garden plan.\n\n" + docs[1]["text"]
    docs[4]["text"] = f"Jane answered from {VALUE.upper()} the next morning.\n\n" + docs[4]["text"]
    docs.append({"id": "d1-copy", "text": docs[1]["text"]})  # an exact duplicate of d1
    (root / "in").mkdir()
    (root / "in" / "a.jsonl").write_text("\n".join(json.dumps(d) for d in docs) + "\n")
    out = root / "out"
    proc = run_cli(
        "run",
        "--input",
        str(root / "in"),
        "--output",
        str(out),
        "--quiet",
        "--set",
        "filters.enabled=false",
        "--set",
        "bias.enabled=false",
        "--set",
        "pii.key_env=THRESHER_TEST_PII_KEY",
        env=KEY,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture
def out(base_run, tmp_path):
    copy = tmp_path / "out"
    shutil.copytree(base_run, copy)
    return copy


def test_forget_a_value_in_several_records_and_a_cluster_representative(out):
    before = load_manifest(out)
    lineage = {r["id"]: r for r in read_parquet_dir(out / "lineage")}
    assert lineage["d1-copy"]["duplicate_of"] == "d1"
    proc = run_cli("forget", str(out), "--value", VALUE, "--json", env=KEY)
    assert proc.returncode == 0, proc.stderr
    receipt = json.loads(proc.stdout)
    assert (receipt["dry_run"], receipt["would_change"], receipt["changed"]) == (False, True, True)
    assert receipt["counts"] == {
        "records": 2,
        "duplicates_marked": 1,
        "data_shards": 1,
        "lineage_rows": 3,
        "index_rows": 2,
    }
    assert receipt["records"] == ["d1", "d4"]
    assert receipt["duplicates_marked"] == ["d1-copy"]
    kept_ids = {r["id"] for r in read_parquet_dir(out / "data")}
    assert not kept_ids & {"d1", "d4", "d1-copy"}
    assert len(kept_ids) == before["counts"]["kept"] - 2
    lineage = {r["id"]: r for r in read_parquet_dir(out / "lineage")}
    assert (lineage["d1"]["fate"], lineage["d1"]["reason"]) == ("dropped", "erased")
    assert (lineage["d1-copy"]["fate"], lineage["d1-copy"]["reason"]) == (
        "dropped",
        "erased_duplicate",
    )
    m = load_manifest(out)
    c = m["counts"]
    assert c["input"] == c["kept"] + c["dropped"] + c["duplicate"] + c["dead_letter"]
    assert m["accounting"]["balanced"] and c["dropped_by_reason"]["erased"] == 2
    assert len(lineage) == c["input"]
    assert [s["rows"] for s in m["outputs"]["data"]] and all(
        s["rows"] > 0 for s in m["outputs"]["data"]
    )
    index_ids = {r["id"] for r in read_parquet_dir(out / "index")}
    assert not index_ids & {"d1", "d4"}
    # no raw value anywhere: receipt, manifest, lineage, report, card
    for p in out.rglob("*"):
        if p.is_file():
            blob = p.read_bytes()
            assert VALUE.encode() not in blob and VALUE.upper().encode() not in blob, p
    rec = out / receipt["receipt"]
    assert rec.exists() and json.loads(rec.read_text())["request"]["key_id"]


def test_absent_value_changes_nothing(out):
    before = _tree_digest(out)
    proc = run_cli("forget", str(out), "--value", "nobody@example.com", "--json", env=KEY)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["records"] == []
    # booleans, never null: nothing matched, nothing would change, nothing changed
    assert (result["dry_run"], result["would_change"], result["changed"]) == (False, False, False)
    assert set(result["counts"].values()) == {0}
    assert _tree_digest(out) == before
    proc = run_cli("forget", str(out), "--value", "nobody@example.com", env=KEY)
    assert proc.stdout.strip() == "no kept record matches the request; nothing was changed."


def test_dry_run_lists_without_changing(out):
    before = _tree_digest(out)
    proc = run_cli("forget", str(out), "--value", VALUE, "--dry-run", "--json", env=KEY)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["records"] == ["d1", "d4"]
    assert (result["dry_run"], result["would_change"], result["changed"]) == (True, True, False)
    assert result["counts"]["index_rows"] == 2 and result["counts"]["lineage_rows"] == 3
    assert _tree_digest(out) == before


def test_dry_run_prints_a_readable_summary(out):
    before = _tree_digest(out)
    proc = run_cli("forget", str(out), "--value", VALUE, "--dry-run", env=KEY)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "dry run: nothing was changed.",
        "records would be erased: 2 (d1, d4)",
        "duplicates of them would be marked dropped: 1 (d1-copy)",
        "data shards would be rewritten: 1 (part-00000-of-00001.parquet: 2 rows out)",
        "lineage rows would be set to dropped: 3",
        "index rows would be removed: 2",
        "run again without --dry-run to erase.",
    ]
    assert "{" not in proc.stdout and VALUE not in proc.stdout
    assert _tree_digest(out) == before


def test_dry_run_names_finetune_runs_on_the_affected_data(out):
    from thresher.finetune.ledger import record

    sha = hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
    record(
        out,
        {
            "run_id": "r1",
            "status": "completed",
            "epsilon": 2.0,
            "delta": 1e-5,
            "unit": "record",
            "model": {"name": "tiny"},
            "time": "t",
            "dataset_manifest_sha256": sha,
        },
    )
    proc = run_cli("forget", str(out), "--value", VALUE, "--dry-run", "--json", env=KEY)
    assert proc.returncode == 0, proc.stderr
    assert [r["run_id"] for r in json.loads(proc.stdout)["finetune_runs_on_affected_data"]] == [
        "r1"
    ]
    proc = run_cli("forget", str(out), "--value", VALUE, "--dry-run", env=KEY)
    assert "1 fine-tune run trained on data holding these records" in proc.stdout


def test_unknown_entity_type_is_an_error_listing_the_valid_ones(out):
    before = _tree_digest(out)
    proc = run_cli("forget", str(out), "--value", VALUE, "--entity", "EMAIL", env=KEY)
    assert proc.returncode == 2, proc.stderr
    assert "--entity 'EMAIL' is not an entity type of this output" in proc.stderr
    assert "EMAIL_ADDRESS" in proc.stderr and "PERSON" in proc.stderr
    assert VALUE not in proc.stderr and "Traceback" not in proc.stderr
    assert _tree_digest(out) == before
    # a valid type restricts the match: the value is an e-mail address, not a person
    proc = run_cli(
        "forget", str(out), "--value", VALUE, "--entity", "PERSON", "--dry-run", "--json", env=KEY
    )
    assert proc.returncode == 0 and json.loads(proc.stdout)["would_change"] is False


def test_dry_run_exits_cleanly_every_time(out):
    """Issue 18: a dry run once aborted after printing its result (exit 134, `terminate called
    without an active exception`): Arrow I/O threads released Python-owned buffers during
    interpreter shutdown. Shards are now read through Arrow-owned memory."""
    for _ in range(5):
        proc = run_cli("forget", str(out), "--value", VALUE, "--dry-run", env=KEY)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "terminate called" not in proc.stderr


def test_forget_by_ids(out, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("d7\nnot-there\n")
    proc = run_cli("forget", str(out), "--ids", str(ids), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["records"] == ["d7"]
    assert "d7" not in {r["id"] for r in read_parquet_dir(out / "data")}


def test_wrong_key_is_refused(out):
    proc = run_cli(
        "forget",
        str(out),
        "--value",
        VALUE,
        env={"THRESHER_TEST_PII_KEY": "another-key-of-enough-length-000"},
    )
    assert proc.returncode == 2 and "anonymized with key" in proc.stderr
    assert VALUE not in proc.stderr


def test_crash_before_commit_leaves_the_previous_state(out):
    from thresher.forget import forget

    before = _tree_digest(out)
    import os

    os.environ.update(KEY)
    with pytest.raises(RuntimeError, match="simulated crash"):
        forget(str(out), value=VALUE, _crash_after_staging=True)
    after = {k: v for k, v in _tree_digest(out).items() if not k.startswith("_erasure_pending")}
    assert after == before
    # the next command discards the uncommitted transaction and erases for real
    result = forget(str(out), value=VALUE)
    assert result["changed"] is True and not (out / "_erasure_pending").exists()
