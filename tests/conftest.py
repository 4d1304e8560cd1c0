"""Shared fixtures: the real CLI, run in-process or as a subprocess, on real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]
# Property tests draw the same examples on every run (the test suite, and so CI, gives the same
# verdict for the same code); HYPOTHESIS_PROFILE=explore draws new ones, to look for new cases.
settings.register_profile("default", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The PII stage creates a key in the user key store on first use: keep tests out of ~/.config,
# and give the store one fixed test key, so runs that hash or replace PII are comparable with
# the golden outputs (tests/e2e/golden.py) on every machine.
TEST_KEY_HEX = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
_config = Path(tempfile.mkdtemp(prefix="thresher-test-config-"))
(_config / "thresher" / "keys").mkdir(parents=True, mode=0o700)
(_config / "thresher" / "keys" / "default.key").write_text(TEST_KEY_HEX + "\n")
(_config / "thresher" / "keys" / "default.key").chmod(0o600)
os.environ["XDG_CONFIG_HOME"] = str(_config)


def run_cli(
    *args: str, cwd: Path | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the installed ``thresher`` console script for real and capture its output."""
    full_env = {**os.environ, **(env or {})}
    exe = Path(sys.executable).with_name("thresher")
    return subprocess.run(
        [str(exe), *args],
        cwd=cwd or REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def fresh_python(*snippets: str) -> list:
    """Run each snippet in a fresh interpreter (nothing imported yet) and return the JSON its
    last line of output holds, in order."""
    return [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout.splitlines()[-1]
        )
        for code in snippets
    ]


def read_parquet_dir(path: Path) -> list[dict]:
    files = sorted(path.glob("*.parquet"))
    rows: list[dict] = []
    for f in files:
        rows.extend(pq.read_table(f).to_pylist())
    return rows


def sorted_rows(out: Path, kind: str) -> list[str]:
    """Every row of ``out/kind`` as sorted JSON: two outputs compare whatever their sharding."""
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in read_parquet_dir(out / kind))


def load_manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


@pytest.fixture
def cli():
    return run_cli
