"""The two runs of ``make run``'s recipe that the end-to-end tests read (one worker, and two
worker processes), made once per test session."""

import pytest

from tests.conftest import run_cli


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("e2e") / "out"
    proc = run_cli("run", "pipelines/default.yaml", "--output", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


@pytest.fixture(scope="session")
def two_worker_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("e2e2") / "out"
    proc = run_cli(
        "run",
        "--output",
        str(out),
        "--quiet",
        "--direct_num_workers",
        "2",
        "--direct_running_mode",
        "multi_processing",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out
