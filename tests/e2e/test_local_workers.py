"""A local run with no Beam options uses one worker process per free core when the PII stage
is on (``thresher.run.local_workers``); any explicit Beam option wins; the progress output
says how many workers run."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import run_cli
from thresher.cli import quiet_worker_chatter
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


def test_no_worker_processes_without_a_loopback_network(monkeypatch):
    """Beam's workers reach the launcher over localhost: where that is down they would never
    connect and the run would hang, so it stays in one process."""
    import thresher.cores

    monkeypatch.setattr(thresher.cores, "loopback_works", lambda: False)
    assert local_workers(PipelineConfig(), [], cores=4) == 1
    monkeypatch.setattr(thresher.cores, "loopback_works", lambda: True)
    assert local_workers(PipelineConfig(), [], cores=4) == 4


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
    # Beam's worker processes log at INFO; none of that reaches the terminal
    assert not re.search(r"^INFO:", proc.stderr, re.MULTILINE), proc.stderr[-3000:]
    assert "semi_persistent_directory" not in proc.stderr
    assert "apitools" not in proc.stderr


def test_worker_chatter_is_dropped_and_everything_else_kept(capfd):
    """A child process writing to the inherited standard error, as Beam's workers do."""
    child = "import sys\nfor line in sys.argv[1:]: print(line, file=sys.stderr)\n"
    lines = [
        "INFO:apache_beam.runners.worker.sdk_worker:Control channel established.",
        "[thresher pid 7 of 2 worker(s)] read 10 (5/s)",
        "INFO:presidio-analyzer:Using device of type: cpu",
        "WARNING:root:apitools not found, and bigquery client libraries are not available",
        "ERROR:apache_beam.runners.worker.sdk_worker:Error processing instruction 12",
        "WARNING:__main__:No semi_persistent_directory found:  User registered objects",
        "WARNING:thresher.pii:a warning worth reading",
        "Traceback (most recent call last):",
    ]
    with quiet_worker_chatter():
        subprocess.run([sys.executable, "-c", child, *lines], check=True)
        # Through file descriptor 2, as the CLI's own stderr writes go: under ``capfd``
        # ``sys.stderr`` writes straight to pytest's capture file, past the pipe, and could
        # overtake the child's lines while the forwarding thread waits for a core.
        os.write(2, b"thresher: parent line\n")
    assert capfd.readouterr().err.splitlines() == [
        "[thresher pid 7 of 2 worker(s)] read 10 (5/s)",
        "ERROR:apache_beam.runners.worker.sdk_worker:Error processing instruction 12",
        "WARNING:thresher.pii:a warning worth reading",
        "Traceback (most recent call last):",
        "thresher: parent line",
    ]


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
        else why == "one free core, no CPU-heavy stage, or no loopback network for workers"
    )


def test_worker_chatter_filter_leaves_a_closed_stderr_alone():
    code = (
        "import os\n"
        "os.close(2)\n"
        "from thresher.cli import quiet_worker_chatter\n"
        "with quiet_worker_chatter():\n"
        "    print('ran')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "ran\n"
