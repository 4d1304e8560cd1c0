"""End to end: the real ``thresher`` CLI decontaminates sample_data/ against the planted
benchmark of the default recipe (tier c), reading the Parquet back.

PII and near dedup are switched off to keep these runs short: decontamination runs before
both, so they cannot change what it finds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, load_manifest, read_parquet_dir, run_cli, sorted_rows

PLANTED = json.loads((REPO / "sample_data" / "_planted.json").read_text())["decontamination"]
ITEMS = {
    json.loads(line)["id"]: json.loads(line)
    for line in (REPO / "sample_data" / PLANTED["file"]).read_text().splitlines()
}
FAST = ["--set", "pii.enabled=false", "--set", "dedup.near.enabled=false"]


def _run(out: Path, *extra: str) -> Path:
    proc = run_cli(
        "run", "pipelines/decontaminate.yaml", "--output", str(out), "--quiet", *FAST, *extra
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def side_input_run(tmp_path_factory) -> Path:
    return _run(tmp_path_factory.mktemp("decont") / "out")


@pytest.fixture(scope="module")
def join_two_worker_run(tmp_path_factory) -> Path:
    return _run(
        tmp_path_factory.mktemp("decont2") / "out",
        "--set",
        "decontamination.max_side_input_ngrams=1",
        "--direct_num_workers",
        "2",
        "--direct_running_mode",
        "multi_processing",
    )


def test_planted_items_are_found_and_their_records_dropped(side_input_run):
    lineage = {r["id"]: r for r in read_parquet_dir(side_input_run / "lineage")}
    contaminated = {i for i, r in lineage.items() if r["reason"] == "contaminated"}
    expected = {rid for ids in PLANTED["found"].values() for rid in ids}
    assert contaminated == expected
    for item, record_ids in PLANTED["found"].items():
        for rid in record_ids:
            row = lineage[rid]
            assert (row["fate"], row["stage"]) == ("dropped", "decontaminate")
            details = json.loads(row["details"])
            (found,) = details["benchmarks"]["planted_eval"]["items"]
            assert found["item"] == item and found["match"] == "ngram"
            assert 0 < found["ngrams_matched"] <= found["item_ngrams"]
            assert found["fraction"] == round(found["ngrams_matched"] / found["item_ngrams"], 4)
    m = load_manifest(side_input_run)
    assert m["accounting"]["balanced"]
    assert m["counts"]["dropped_by_reason"]["contaminated"] == len(expected)
    d = m["decontamination"]
    assert d["method"] == "side_input" and d["ngram"] == 13 and d["action"] == "drop"
    assert d["records_contaminated"] == len(expected)
    assert d["index"]["ngrams"] > 0 and d["index"]["bytes"] > 0
    assert d["benchmarks"]["planted_eval"] == {
        "items": len(ITEMS),
        "items_found": len(PLANTED["found"]),
        "contamination_rate": len(PLANTED["found"]) / len(ITEMS),
        "records": len(expected),
        "example_records": sorted(expected),
        "example_items": sorted(PLANTED["found"]),
    }
    stage = next(s for s in m["stages"] if s["stage"] == "decontaminate")
    assert stage["dropped"] == len(expected)
    names = [s["stage"] for s in m["stages"]]
    assert names.index("exact_dedup") < names.index("decontaminate") < names.index("filter_quality")


def test_report_card_and_explain_show_it_without_text(side_input_run):
    report = (side_input_run / "report.html").read_text()
    assert "<h2>Decontamination</h2>" in report and "planted_eval" in report
    card = (side_input_run / "README.md").read_text()
    assert "## Decontamination" in card and "`planted_eval` (4 items, 2 found" in card
    assert "13-word n-gram" in card
    texts = [i["question"] for i in ITEMS.values()] + [i["answer"] for i in ITEMS.values()]
    outputs = [
        report,
        card,
        (side_input_run / "manifest.json").read_text(),
        json.dumps([r["details"] for r in read_parquet_dir(side_input_run / "lineage")]),
    ]
    for text in texts:
        for out in outputs:
            assert text not in out and text.upper() not in out
    record = PLANTED["found"]["planted-q1"][0]
    proc = run_cli("explain", str(side_input_run), record)
    assert proc.returncode == 0, proc.stderr
    assert "reason 'contaminated'" in proc.stdout
    assert "benchmark  planted_eval item planted-q1: " in proc.stdout


def test_join_path_with_two_workers_gives_the_same_output(side_input_run, join_two_worker_run):
    for kind in ("data", "lineage", "dead_letter"):
        assert sorted_rows(side_input_run, kind) == sorted_rows(join_two_worker_run, kind), kind
    one = load_manifest(side_input_run)["decontamination"]
    two = load_manifest(join_two_worker_run)["decontamination"]
    assert two["method"] == "join"
    assert one["benchmarks"] == two["benchmarks"]
    assert load_manifest(join_two_worker_run)["counts"] == load_manifest(side_input_run)["counts"]


def test_index_file_loaded_by_two_worker_processes_gives_the_same_output(side_input_run, tmp_path):
    two = _run(
        tmp_path / "out",
        "--direct_num_workers",
        "2",
        "--direct_running_mode",
        "multi_processing",
    )
    for kind in ("data", "lineage", "dead_letter"):
        assert sorted_rows(side_input_run, kind) == sorted_rows(two, kind), kind
    assert load_manifest(two)["decontamination"] == load_manifest(side_input_run)["decontamination"]


def test_batched_run_drops_the_same_records_and_leaves_no_index_file(side_input_run, tmp_path):
    # four batches load one index file written at launch; the run removes it at the end
    batched = _run(tmp_path / "out", "--batch-records", "250")
    assert load_manifest(batched)["batching"]["batches"] > 1

    def contaminated(out: Path) -> set[str]:
        rows = read_parquet_dir(out / "lineage")
        return {r["id"] for r in rows if r["reason"] == "contaminated"}

    assert contaminated(batched) == contaminated(side_input_run) != set()
    assert (
        load_manifest(batched)["decontamination"]["benchmarks"]
        == (load_manifest(side_input_run)["decontamination"]["benchmarks"])
    )
    for out in (batched, side_input_run):
        assert not (out / "_staging").exists() and not (out / "_batches").exists()
        assert not list(out.rglob("benchmark-index-*"))


def test_annotate_keeps_the_record_and_explain_shows_the_detail(tmp_path):
    q1 = ITEMS["planted-q1"]["question"]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        json.dumps({"id": "chat-1", "text": "A question I saw:\n" + q1.lower()})
        + "\n"
        + json.dumps({"id": "clean-1", "text": "Nothing from any benchmark here at all."})
        + "\n"
    )
    out = tmp_path / "out"
    proc = run_cli(
        "run",
        "pipelines/decontaminate.yaml",
        "--input",
        str(corpus),
        "--output",
        str(out),
        "--quiet",
        *FAST,
        "--set",
        "filters.enabled=false",
        "--set",
        "decontamination.action=annotate",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = {r["id"]: r for r in read_parquet_dir(out / "data")}
    assert sorted(data) == ["chat-1", "clean-1"]
    signals = {i: {s["name"]: s["value"] for s in r["signals"]} for i, r in data.items()}
    assert signals["chat-1"]["contaminated"] == 1.0
    assert signals["clean-1"]["contaminated"] == 0.0
    lineage = {r["id"]: r for r in read_parquet_dir(out / "lineage")}
    assert lineage["chat-1"]["fate"] == "kept"
    detail = json.loads(lineage["chat-1"]["details"])["decontamination"]
    assert detail["benchmarks"]["planted_eval"]["items"][0]["item"] == "planted-q1"
    assert lineage["clean-1"]["details"] is None
    m = load_manifest(out)
    assert m["decontamination"]["records_contaminated"] == 1
    assert m["counts"]["kept"] == 2 and m["accounting"]["balanced"]
    explained = run_cli("explain", str(out), "chat-1")
    assert "benchmark  planted_eval item planted-q1: " in explained.stdout


@pytest.mark.parametrize(
    ("setting", "needle"),
    [
        (
            "decontamination.benchmarks=[{name: gone, paths: [no/such.jsonl], fields: [q]}]",
            "decontamination.benchmarks[gone].paths: 'no/such.jsonl' matches no",
        ),
        (
            "decontamination.benchmarks=[{name: wrong, paths: [sample_data/_eval_planted.jsonl],"
            " fields: [question, solution]}]",
            "decontamination.benchmarks[wrong].fields: field 'solution' is missing",
        ),
        (
            "decontamination.benchmarks=[{name: a, paths: [x], fields: [q]}, "
            "{name: a, paths: [y], fields: [q]}]",
            "benchmark name(s) a appear twice",
        ),
    ],
)
def test_bad_benchmarks_fail_before_the_run_naming_benchmark_and_key(tmp_path, setting, needle):
    out = tmp_path / "out"
    proc = run_cli("run", "pipelines/decontaminate.yaml", "--output", str(out), "--set", setting)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert needle in proc.stderr
    assert not (out / "data").exists()
