"""End-to-end runs of the real CLI on sample_data/ (tier c), reading the Parquet back."""

import json
import shutil
from pathlib import Path

from tests.conftest import REPO, load_manifest, read_parquet_dir, run_cli, sorted_rows

PLANTED = json.loads((REPO / "sample_data" / "_planted.json").read_text())


def lineage_by_id(out: Path) -> dict[str, dict]:
    return {r["id"]: r for r in read_parquet_dir(out / "lineage")}


def test_layout_and_manifest_balance(sample_run):
    out, proc = sample_run
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "data",
        "dead_letter",
        "index",
        "lineage",
        "manifest.json",
        "report.html",
    ]
    m = load_manifest(out)
    c = m["counts"]
    assert m["status"] == "succeeded" and m["accounting"]["balanced"]
    assert c["input"] == c["kept"] + c["dropped"] + c["duplicate"] + c["dead_letter"]
    lineage = read_parquet_dir(out / "lineage")
    assert len(lineage) == c["input"] == len({r["id"] for r in lineage})
    assert len(read_parquet_dir(out / "data")) == c["kept"]
    assert len(read_parquet_dir(out / "dead_letter")) == c["dead_letter"]
    assert m["recipe_hash"] and m["recipe"]["output"]["path"] == str(out)
    sizes = {Path(i["path"]).name: i for i in m["inputs"]}
    assert sizes["empty.jsonl"]["records"] == 0 and sizes["empty.jsonl"]["size_bytes"] == 0
    assert "README.md" not in sizes and "_planted.json" not in sizes
    assert sum(i["records"] for i in m["inputs"]) == c["input"]
    names = [s["file"] for s in m["outputs"]["data"]]
    assert names == [f"data/part-{i:05d}-of-{len(names):05d}.parquet" for i in range(len(names))]
    assert all(s["rows"] > 0 for s in m["outputs"]["data"])
    assert "balanced" in proc.stderr and "exact_dedup" in proc.stderr  # summary table


def test_planted_bad_records_are_dead_lettered(sample_run):
    out, _ = sample_run
    dead = read_parquet_dir(out / "dead_letter")
    got = {
        (
            Path(d["source"]).parent.name + "/" + Path(d["source"]).name,
            d["position"],
            d["error_type"],
        )
        for d in dead
    }
    for bad in PLANTED["bad_records"]:
        if bad["position"] is None:
            assert any(g[0] == bad["file"] and g[2] == bad["error_type"] for g in got), bad
        else:
            assert (bad["file"], bad["position"], bad["error_type"]) in got, bad
    # the chat files' bad records: tests/e2e/test_chat_e2e.py
    assert len(dead) == len(PLANTED["bad_records"]) + len(PLANTED["chat"]["bad_records"])
    # records before the gzip break were kept
    kept_ids = {r["id"] for r in read_parquet_dir(out / "data")}
    assert "trunc-00" in kept_ids and "mal-good-0" in kept_ids and "mal-good-1" in kept_ids


def test_planted_exact_duplicates_are_removed_and_named(sample_run):
    out, _ = sample_run
    lineage = lineage_by_id(out)
    for group in PLANTED["exact_duplicate_groups"]:
        fates = [lineage[i] for i in group]
        # The kept one is the smallest (source, position); a later stage may still drop it
        # (the boilerplate group is Latin lorem ipsum), but it is never a duplicate.
        winner = min(fates, key=lambda f: (f["source"], f["position"]))
        assert winner["fate"] in ("kept", "dropped"), winner
        for f in fates:
            if f["id"] != winner["id"]:
                assert (f["fate"], f["reason"], f["duplicate_of"]) == (
                    "duplicate",
                    "exact_duplicate",
                    winner["id"],
                )
    for a, b in PLANTED["case_variant_pairs"]:
        # exact dedup keeps both; near dedup (case-folded shingles) keeps one of them
        assert lineage[a]["stage"] != "exact_dedup" and lineage[b]["stage"] != "exact_dedup"
        assert sorted((lineage[a]["fate"], lineage[b]["fate"])) == ["duplicate", "kept"]
    groups = PLANTED["exact_duplicate_groups"] + PLANTED["chat"]["exact_duplicates"]
    expected_dups = sum(len(g) - 1 for g in groups)
    by_reason = load_manifest(out)["counts"]["duplicate_by_reason"]
    assert by_reason["exact_duplicate"] == expected_dups


def test_planted_other_languages_and_noise_are_dropped(sample_run):
    out, _ = sample_run
    lineage = lineage_by_id(out)
    for item in PLANTED["non_english"]:
        assert lineage[item["id"]]["fate"] == "dropped"
        assert lineage[item["id"]]["reason"].startswith("language_")
    for rid in PLANTED["noise_ids"]:
        assert lineage[rid]["fate"] == "dropped", rid


def test_output_is_readable_and_normalized(sample_run):
    out, _ = sample_run
    rows = {r["id"]: r for r in read_parquet_dir(out / "data")}
    forum = next(r for r in rows.values() if r["id"] == "forum-000")
    # metadata is scanned for PII like the text (pii.default_field_policy: scan)
    assert json.loads(forum["meta"])["author_email"] == "<EMAIL_ADDRESS>"
    mojibake = next(r for r in rows.values() if r["source"].endswith("chapter-mojibake.txt"))
    assert "crème brûlée" in mojibake["text"] and "normalize" in mojibake["modifications"]
    bom = next(r for r in rows.values() if r["source"].endswith("chapter-bom.txt"))
    assert not bom["text"].startswith("\ufeff")


def test_same_records_with_two_workers(sample_run, two_worker_run):
    one, _ = sample_run
    for kind in ("data", "lineage", "dead_letter", "index"):
        assert sorted_rows(one, kind) == sorted_rows(two_worker_run, kind), kind
    # shard layout is deterministic too
    assert [p.name for p in sorted((one / "data").iterdir())] == [
        p.name for p in sorted((two_worker_run / "data").iterdir())
    ]


def test_explain_tells_a_duplicates_story(sample_run):
    out, _ = sample_run
    group = PLANTED["exact_duplicate_groups"][0]
    lineage = lineage_by_id(out)
    dup = next(i for i in group if lineage[i]["fate"] == "duplicate")
    proc = run_cli("explain", str(out), dup)
    assert proc.returncode == 0, proc.stderr
    assert "fate       duplicate at stage 'exact_dedup'" in proc.stdout
    assert f"duplicate of {lineage[dup]['duplicate_of']}" in proc.stdout
    kept = run_cli("explain", str(out), lineage[dup]["duplicate_of"], "--json")
    story = json.loads(kept.stdout)
    assert story["record"]["fate"] == "kept" and dup in story["duplicates"]["ids"]
    dead = run_cli(
        "explain", str(out), next(i for i, r in lineage.items() if r["fate"] == "dead_letter")
    )
    assert "error" in dead.stdout
    missing = run_cli("explain", str(out), "no-such-id")
    assert missing.returncode == 2 and "not in" in missing.stderr


def test_refuses_non_empty_output_and_overwrites_only_thresher_dirs(tmp_path, sample_run):
    out, _ = sample_run
    copy = tmp_path / "prev"
    shutil.copytree(out, copy)
    proc = run_cli("run", "--output", str(copy), "--quiet")
    assert proc.returncode == 2 and "--overwrite" in proc.stderr
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "precious.txt").write_text("keep me")
    proc = run_cli("run", "--output", str(stranger), "--overwrite", "--quiet")
    assert proc.returncode == 2 and "not a thresher output" in proc.stderr
    assert (stranger / "precious.txt").read_text() == "keep me"


def test_usage_errors_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("dedup:\n  exact:\n    enabld: true\n")
    proc = run_cli("validate", str(bad))
    assert proc.returncode == 2 and "dedup.exact.enabld" in proc.stderr
    assert run_cli("validate", "pipelines/default.yaml").returncode == 0
    proc = run_cli("run", "--output", str(tmp_path / "o"), "--ouput", "typo")
    assert proc.returncode == 2 and "--ouput" in proc.stderr
    proc = run_cli(
        "run", "--input", str(tmp_path / "nothing-*.jsonl"), "--output", str(tmp_path / "o")
    )
    assert proc.returncode == 2 and "matches no file" in proc.stderr
    proc = run_cli("run", "--set", "output.max_rows_per_shard=-1", "--output", str(tmp_path / "o"))
    assert proc.returncode == 2 and "output.max_rows_per_shard" in proc.stderr


def test_dead_letter_fraction_fails_the_run_but_keeps_the_books(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "good document"}\nnot json\nnot json either\n')
    out = tmp_path / "out"
    fast = ("--set", "pii.enabled=false")  # the dead-letter limit does not involve PII
    proc = run_cli("run", "--input", str(src), "--output", str(out), "--quiet", *fast)
    assert proc.returncode == 1
    assert "limits.max_dead_letter_fraction" in proc.stderr and "0.6667" in proc.stderr
    m = load_manifest(out)
    assert m["status"] == "failed" and m["accounting"]["balanced"]
    assert not (out / "data").exists() and len(read_parquet_dir(out / "dead_letter")) == 2
    ok = run_cli(
        "run",
        "--input",
        str(src),
        "--output",
        str(out),
        "--overwrite",
        "--quiet",
        "--set",
        "limits.max_dead_letter_fraction=0.7",
        *fast,
    )
    assert ok.returncode == 0, ok.stderr


def test_shard_caps_from_the_command_line(tmp_path):
    out = tmp_path / "o"
    caps = ("--set", "output.max_rows_per_shard=100", "--set", "pii.enabled=false")
    proc = run_cli("run", "--output", str(out), "--quiet", *caps)
    assert proc.returncode == 0, proc.stderr
    m = load_manifest(out)
    rows = [s["rows"] for s in m["outputs"]["data"]]
    assert len(rows) >= m["counts"]["kept"] // 100 and all(0 < r <= 100 for r in rows)
    assert sum(rows) == m["counts"]["kept"]
