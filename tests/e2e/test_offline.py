"""The default run makes no network connection: every Python-level connect or name lookup to a
non-loopback host is recorded by an audit hook, and where the kernel allows it the same run is
repeated inside a network namespace with no interfaces (`unshare -n`)."""

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO, load_manifest

HOOKED_RUN = r"""
import json, sys
calls = []
LOCAL = {"127.0.0.1", "::1", "localhost", "0.0.0.0", ""}
def hook(event, args):
    if event == "socket.connect":
        addr = args[1]
        host = addr[0] if isinstance(addr, tuple) else str(addr)
        if host not in LOCAL and not str(host).startswith("127.") and not str(host).startswith("/"):
            calls.append([event, str(host)])
    elif event == "socket.getaddrinfo":
        if str(args[0]) not in LOCAL and not str(args[0]).startswith("127."):
            calls.append([event, str(args[0])])
sys.addaudithook(hook)
from thresher.cli import main
rc = main(sys.argv[2:])
open(sys.argv[1], "w").write(json.dumps({"rc": rc, "calls": calls}))
"""


def test_default_run_attempts_no_network(tmp_path):
    report = tmp_path / "report.json"
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-c", HOOKED_RUN, str(report), "run", "--output", str(out), "--quiet"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(report.read_text())
    assert result == {"rc": 0, "calls": []}
    assert load_manifest(out)["runner"] == "FnApiRunner"


def _can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


def test_default_run_inside_a_namespace_without_network(tmp_path):
    if not _can_unshare():
        pytest.skip("unshare -n is not permitted here (needs root or user namespaces)")
    out = tmp_path / "out"
    exe = str(REPO / ".venv" / "bin" / "thresher") if (REPO / ".venv").exists() else "thresher"
    proc = subprocess.run(
        ["unshare", "-n", exe, "run", "--output", str(out), "--quiet"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert load_manifest(out)["accounting"]["balanced"]


HOOKED_FASTTEXT = (
    HOOKED_RUN.split("from thresher.cli import main")[0]
    + r"""
from thresher.core.language import build_detector, known_codes
code = build_detector(True, "fasttext").identify("The committee met on Tuesday.", 10_000)[0]
open(sys.argv[1], "w").write(json.dumps({"code": code, "known": len(known_codes("fasttext")),
                                         "calls": calls}))
"""
)


def test_fasttext_backend_loads_its_model_without_network(tmp_path):
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-c", HOOKED_FASTTEXT, str(report)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(report.read_text()) == {"code": "en", "known": 176, "calls": []}
