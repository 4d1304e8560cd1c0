"""Batched local runs and resume, through the real CLI on ``sample_data/`` (every input format,
malformed and chat files included; 855 positions cut into 4 batches of 250, so large files are
cut too).

- A batched run gives the unbatched run's records, lineage, dead letters and books, except
  which member of a duplicate cluster that spans batches is kept (the one in the earliest
  batch) and that cluster's id.
- A run crashed between batches, inside a batch, or killed with SIGKILL resumes to the same
  output as an uninterrupted batched run; a changed recipe is refused, naming the key.

PII is off to keep the runs short (the PII stage has its own tests; batching does not touch it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO, run_cli
from tests.e2e.golden import canonical

FAST = ("--set", "pii.enabled=false", "--quiet")
BATCH = ("--batch-records", "250")


def _run(out: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_cli("run", "pipelines/default.yaml", "--output", str(out), *FAST, *extra, env=env)


def _rows(out: Path, kind: str) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    for f in sorted((out / kind).glob("*.parquet")):
        for row in pq.read_table(f).to_pylist():
            assert row["id"] not in rows, f"{kind}: id {row['id']} twice"
            rows[row["id"]] = row
    return rows


@pytest.fixture(scope="module")
def unbatched(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("unbatched") / "out"
    proc = _run(out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "batching" not in json.loads((out / "manifest.json").read_text())
    return out


@pytest.fixture(scope="module")
def batched(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("batched") / "out"
    proc = run_cli(
        "run", "pipelines/default.yaml", "--output", str(out), "--set", "pii.enabled=false",
        *BATCH, env={"THRESHER_PROGRESS_INTERVAL": "0.5"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "[thresher] batch 1/4" in proc.stderr and "[thresher] batch 4/4" in proc.stderr
    return out


def _batch_of(out: Path):
    journal = json.loads((out / "journal.json").read_text())

    def which(source: str, position: int) -> int:
        for k, spans in enumerate(journal["batches"]):
            for path, start, stop, _offset in spans:
                inside = (start == 0 or position >= start) and (stop is None or position < stop)
                if path == source and inside:
                    return k
        raise AssertionError(f"{source}:{position} is in no batch")

    return which


def _clusters(lineage: dict[str, dict]) -> dict[str, frozenset[str]]:
    """Every record in a duplicate cluster -> the cluster's members (kept record included)."""
    groups: dict[str, set[str]] = {}
    for rid, row in lineage.items():
        if row["fate"] == "duplicate":
            groups.setdefault(row["duplicate_of"], {row["duplicate_of"]}).add(rid)
    return {m: frozenset(g) for g in groups.values() for m in g}


def test_batched_run_equals_unbatched_but_for_cross_batch_keepers(unbatched, batched):
    manifest = json.loads((batched / "manifest.json").read_text())
    assert manifest["batching"] == {"batch_records": 250, "batches": 4, "positions": 855}
    assert manifest["accounting"]["balanced"]
    assert not (batched / "_batches").exists()
    want = json.loads((unbatched / "manifest.json").read_text())
    for key in ("counts", "stages", "accounting", "inputs"):
        assert manifest[key] == want[key], key
    assert _rows(batched, "dead_letter") == _rows(unbatched, "dead_letter")

    a, b = _rows(unbatched, "lineage"), _rows(batched, "lineage")
    assert a.keys() == b.keys()
    clusters_a, clusters_b = _clusters(a), _clusters(b)
    batch_of = _batch_of(batched)
    moved = 0
    for rid in a:
        ra, rb = dict(a[rid]), dict(b[rid])
        assert clusters_a.get(rid) == clusters_b.get(rid), f"{rid}: other cluster members"
        if ra == rb:
            continue
        members = clusters_b[rid]
        keeper = next(m for m in members if b[m]["fate"] != "duplicate")
        spans = {batch_of(b[m]["source"], b[m]["position"]) for m in members}
        assert len(spans) > 1, f"{rid} differs inside one batch"
        assert batch_of(b[keeper]["source"], b[keeper]["position"]) == min(spans)
        decided = ("fate", "stage", "reason", "duplicate_of", "cluster_id", "details")
        for field in decided:
            ra.pop(field), rb.pop(field)
        assert ra == rb, rid
        moved += 1
    assert moved > 0, "sample_data has near duplicates across these batches"

    data_a, data_b = _rows(unbatched, "data"), _rows(batched, "data")
    assert len(data_a) == len(data_b)
    for rid in data_a.keys() & data_b.keys():
        assert data_a[rid] == data_b[rid], rid
    index_b = _rows(batched, "index")
    assert index_b.keys() == data_b.keys()


def _journal_finished(out: Path) -> int:
    try:
        return len(json.loads((out / "journal.json").read_text())["finished"])
    except (OSError, ValueError):
        return 0


def test_crash_between_and_inside_batches_resumes_to_the_same_output(batched, tmp_path):
    out = tmp_path / "out"
    crashed = _run(out, *BATCH, env={"THRESHER_TEST_CRASH": "after:1"})
    assert crashed.returncode != 0 and "SimulatedCrash" in crashed.stderr
    assert _journal_finished(out) == 1 and not (out / "manifest.json").exists()

    refused = _run(out, *BATCH, "--set", "filters.c4.min_words_per_line=5")
    assert refused.returncode == 2
    assert "filters.c4.min_words_per_line" in refused.stderr and "--overwrite" in refused.stderr
    other_size = _run(out, "--batch-records", "300")
    assert other_size.returncode == 2 and "local.batch_records: 250 -> 300" in other_size.stderr

    crashed = _run(out, *BATCH, env={"THRESHER_TEST_CRASH": "inside:3"})
    assert crashed.returncode != 0 and _journal_finished(out) == 2
    assert (out / "_batches" / "00002" / "counts.json").exists()  # done but not journaled

    crashed = _run(out, *BATCH, env={"THRESHER_TEST_CRASH": "after:4"})
    assert crashed.returncode != 0 and _journal_finished(out) == 4
    _crash_while_publishing(out)

    resumed = _run(out, *BATCH)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert canonical(out) == canonical(batched)
    assert not (out / "_batches").exists()


def _crash_while_publishing(out: Path) -> None:
    """What a crash part-way through publishing leaves: the journal's publishing plan, and
    some shards of each kind already moved out of their batch's staging."""
    from thresher.output import layout

    journal = json.loads((out / "journal.json").read_text())
    stagings = [str(out / "_batches" / f"{k:05d}") for k in range(len(journal["batches"]))]
    moves = [
        pair
        for kind in ("data", "lineage", "dead_letter", "index")
        for pair in layout.publish_targets(stagings, str(out), kind)
    ]
    journal["publishing"] = moves
    (out / "journal.json").write_text(json.dumps(journal))
    for staged, published in moves[::3]:
        Path(published).parent.mkdir(exist_ok=True)
        os.rename(staged, published)


def test_sigkilled_run_resumes_to_the_same_output(batched, tmp_path):
    out = tmp_path / "out"
    exe = Path(sys.executable).with_name("thresher")
    args = [str(exe), "run", "pipelines/default.yaml", "--output", str(out), *FAST, *BATCH]
    proc = subprocess.Popen(args, cwd=REPO, env=os.environ.copy(), start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while _journal_finished(out) < 1 and proc.poll() is None:
            assert time.monotonic() < deadline, "batch 1 never finished"
            time.sleep(0.2)
        assert proc.poll() is None, "the run ended before it could be killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / "manifest.json").exists()
    resumed = _run(out, *BATCH)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert canonical(out) == canonical(batched)


def test_overwrite_starts_an_unfinished_batched_run_over(tmp_path):
    out = tmp_path / "out"
    crashed = _run(out, *BATCH, env={"THRESHER_TEST_CRASH": "after:1"})
    assert crashed.returncode != 0 and _journal_finished(out) == 1
    again = _run(out, "--batch-records", "450", "--overwrite")
    assert again.returncode == 0, again.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["batching"]["batches"] == 2
    assert _journal_finished(out) == 2


@pytest.mark.parametrize(
    ("args", "size"),
    [
        ([], 10_000),
        (["--runner", "FnApiRunner"], 10_000),
        (["--runner", "DirectRunner"], 10_000),
        (["--runner", "DataflowRunner"], None),
        (["--runner", "FlinkRunner"], None),
        (["--runner", "PortableRunner"], None),
    ],
)
def test_only_local_runners_batch(args, size):
    from thresher.batched import batch_size
    from thresher.config import PipelineConfig
    from thresher.run import pipeline_options

    assert batch_size(PipelineConfig(), pipeline_options(args)) == size
    never = PipelineConfig.model_validate({"local": {"batch_records": None}})
    assert batch_size(never, pipeline_options(args)) is None


def test_a_source_id_repeated_in_a_later_batch_is_dead_lettered(tmp_path):
    """As in an unbatched run: the first record by (source, position) keeps the id, the later
    one leaves as ``duplicate_id`` naming it, though the two are read by different pipelines."""
    corpus = tmp_path / "in"
    corpus.mkdir()
    lines = [
        {"id": "dup" if i in (2, 25) else f"r{i}", "text": f"Record {i}. " + "word " * (60 + i)}
        for i in range(30)
    ]
    (corpus / "a.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    outs = {}
    for name, extra in (
        ("unbatched", ("--batch-records", "0")),
        ("batched", ("--batch-records", "10")),
    ):
        out = tmp_path / name
        proc = run_cli(
            "run", "--input", str(corpus), "--output", str(out), "--set", "input.id_field=id",
            "--set", "dedup.near.enabled=false", "--set", "filters.enabled=false", *FAST, *extra,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        outs[name] = out
    dead = _rows(outs["batched"], "dead_letter")
    assert [(d["position"], d["error_type"]) for d in dead.values()] == [(25, "duplicate_id")]
    assert "position 2;" in next(iter(dead.values()))["message"]
    assert dead == _rows(outs["unbatched"], "dead_letter")
    assert _rows(outs["batched"], "lineage") == _rows(outs["unbatched"], "lineage")
