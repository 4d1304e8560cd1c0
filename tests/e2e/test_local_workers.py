"""A local run with no Beam options uses one worker process per free core when the PII stage
is on (``thresher.run.local_workers``); any explicit Beam option wins; the progress output
says how many workers run."""

from __future__ import annotations

import re

import pytest

from tests.conftest import run_cli
from thresher.config import PipelineConfig
from thresher.run import MAX_LOCAL_WORKERS, local_workers, pipeline_options, worker_count


@pytest.mark.parametrize(
    ("beam_args", "pii", "cores", "expected"),
    [
        ([], True, 4, 4),  # no options, PII on, 4 free cores: 4 processes
        ([], True, 64, MAX_LOCAL_WORKERS),  # capped: each process loads spaCy
        ([], True, 1, 1),  # one free core: in-process, as Beam's default
        ([], False, 4, 1),  # no CPU-heavy stage: not worth the process start-up
        (["--direct_num_workers", "1"], True, 4, 1),  # an explicit option wins
        (["--runner=FnApiRunner"], True, 4, 1),
    ],
)
def test_local_workers(beam_args, pii, cores, expected):
    config = PipelineConfig(pii={"enabled": pii})
    assert local_workers(config, beam_args, cores=cores) == expected


def test_pipeline_options_ask_for_multi_processing_workers():
    options = pipeline_options([], workers=3).get_all_options()
    assert options["direct_num_workers"] == 3
    assert options["direct_running_mode"] == "multi_processing"
    assert options["runner"] == "FnApiRunner"
    assert worker_count(pipeline_options([], workers=1)) == 1
    explicit = ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]
    assert worker_count(pipeline_options(explicit)) == 2


def test_progress_says_how_many_workers_run(tmp_path):
    proc = run_cli(
        "run",
        "--output",
        str(tmp_path / "out"),
        "--direct_num_workers",
        "2",
        "--direct_running_mode",
        "multi_processing",
        env={"THRESHER_PROGRESS_INTERVAL": "0.2"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "thresher: FnApiRunner, 2 workers (as the Beam options say)" in proc.stderr
    assert re.search(r"\[thresher pid \d+ of 2 worker\(s\)\] read", proc.stderr)


def test_default_local_run_reports_its_workers(tmp_path):
    proc = run_cli("run", "--output", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = re.search(r"thresher: FnApiRunner, (\d+) workers? \((.*)\)", proc.stderr)
    assert line, proc.stderr[-2000:]
    n, why = int(line.group(1)), line.group(2)
    assert 1 <= n <= MAX_LOCAL_WORKERS
    assert (
        why.startswith("one per free core")
        if n > 1
        else why == "one free core, or no CPU-heavy stage"
    )
