"""The two runs of ``make run``'s recipe that the end-to-end tests read (one worker, and two
worker processes), made once per test session.

Both run in a copy of ``sample_data/`` and ``pipelines/`` at one fixed absolute path: a record
without a source id is named by a hash of its source path and position (DESIGN.md), so only a
fixed path gives the same ids, and so the golden outputs (``tests/e2e/golden.py``), from every
clone on every machine.
"""

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

CHECKOUT = Path(tempfile.gettempdir()) / "thresher-e2e-checkout"


def fixed_checkout() -> Path:
    """``sample_data/`` and ``pipelines/`` copied afresh to ``CHECKOUT``."""
    if CHECKOUT.exists():
        shutil.rmtree(CHECKOUT)
    for name in ("sample_data", "pipelines"):
        shutil.copytree(REPO / name, CHECKOUT / name)
    return CHECKOUT


@pytest.fixture(scope="session")
def checkout():
    return fixed_checkout()


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory, checkout):
    out = tmp_path_factory.mktemp("e2e") / "out"
    proc = run_cli(
        "run",
        "pipelines/default.yaml",
        "--output",
        str(out),
        "--direct_num_workers",
        "1",
        cwd=checkout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


@pytest.fixture(scope="session")
def two_worker_run(tmp_path_factory, checkout):
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
        cwd=checkout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out
