"""Run the thresher CLI (or a Python callable) and measure its wall time and the peak resident
memory of its whole process tree: the launcher and every worker process it starts.

Memory comes from ``/proc`` (Linux), sampled every 0.2 s by a background thread: each
process's VmRSS, the largest value seen per process, and the largest sum over the tree at one
sample. A peak shorter than the interval can be missed; processes are matched by parent id, so
workers the runner starts (``--direct_running_mode multi_processing``) are included.

    from benchmarks.harness import run_thresher

    run = run_thresher(corpus, out, workers=2, overrides=["pii.enabled=false"])
    run.manifest["counts"], run.memory.wall_s, run.memory.worker_peaks_mb()

Benchmarks only; thresher never imports this.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RECIPE = ROOT / "pipelines" / "default.yaml"
THRESHER = Path(sys.executable).with_name("thresher")  # the console script beside this Python
INTERVAL_S = 0.2
# Beam's worker processes run a Python interpreter with Beam loaded: far above this. Smaller
# processes in the tree (a shell, a pip helper) are not workers.
WORKER_FLOOR_MB = 50.0

T = TypeVar("T")


def rss_mb(pid: int) -> float:
    """Resident memory of one process now (VmRSS), in MiB; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants now, ``pid`` first."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        stack.extend(children.get(p, []))
    return out


@dataclass(frozen=True)
class Measurement:
    """Wall time and peak memory (MiB) of one run. ``root_peak_mb``: the launched process (for
    ``measure_call``, the caller itself); ``child_peaks_mb``: every other process of the tree,
    largest first; ``tree_peak_mb``: the largest sum of the whole tree at one sample."""

    wall_s: float
    root_peak_mb: float
    child_peaks_mb: tuple[float, ...]
    tree_peak_mb: float

    @property
    def largest_peak_mb(self) -> float:
        """The peak of the largest single process."""
        return max((self.root_peak_mb, *self.child_peaks_mb))

    def worker_peaks_mb(self, floor_mb: float = WORKER_FLOOR_MB) -> list[float]:
        """Peaks of the child processes above ``floor_mb`` (the workers), largest first."""
        return [m for m in self.child_peaks_mb if m > floor_mb]


class TreeSampler:
    """Samples the process tree under ``root`` every ``interval_s`` while in a ``with`` block."""

    def __init__(self, root: int, interval_s: float = INTERVAL_S) -> None:
        self.root = root
        self.interval_s = interval_s
        self.peaks: dict[int, float] = {}
        self.tree_peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._t0 = 0.0
        self.wall_s = 0.0

    def sample(self) -> None:
        total = 0.0
        for pid in process_tree(self.root):
            mb = rss_mb(pid)
            total += mb
            self.peaks[pid] = max(self.peaks.get(pid, 0.0), mb)
        self.tree_peak_mb = max(self.tree_peak_mb, total)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(self.interval_s)

    def __enter__(self) -> TreeSampler:
        self._t0 = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self._t0
        self._stop.set()
        self._thread.join()

    def measurement(self) -> Measurement:
        children = sorted((v for p, v in self.peaks.items() if p != self.root), reverse=True)
        return Measurement(
            wall_s=self.wall_s,
            root_peak_mb=self.peaks.get(self.root, 0.0),
            child_peaks_mb=tuple(children),
            tree_peak_mb=self.tree_peak_mb,
        )


@dataclass(frozen=True)
class CommandRun:
    """A finished command: its measurement, exit status and captured output."""

    memory: Measurement
    returncode: int
    stdout: str
    stderr: str


def measure_command(
    cmd: Sequence[str], env: dict[str, str] | None = None, cwd: Path = ROOT
) -> CommandRun:
    """Run ``cmd`` (``env`` added to this environment) and measure its process tree."""
    proc = subprocess.Popen(
        list(cmd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )
    with TreeSampler(proc.pid) as sampler:
        stdout, stderr = proc.communicate()
    return CommandRun(sampler.measurement(), proc.returncode, stdout, stderr)


def measure_call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, Measurement]:
    """Call ``fn`` in this process and measure this process's tree meanwhile (the root is this
    process: a Beam pipeline run here counts as the launcher, its worker processes as
    children)."""
    with TreeSampler(os.getpid()) as sampler:
        result = fn(*args, **kwargs)
    return result, sampler.measurement()


@dataclass(frozen=True)
class ThresherRun:
    """A successful ``thresher run``: its measurement and the output's manifest."""

    memory: Measurement
    manifest: dict[str, Any]


def thresher_args(
    corpus: Path,
    out: Path,
    *,
    recipe: Path = DEFAULT_RECIPE,
    overrides: Sequence[str] = (),
    workers: int = 1,
    processes: bool = False,
) -> list[str]:
    """Arguments of ``thresher run`` on ``corpus`` into ``out`` (overwritten, quiet), each
    ``overrides`` item (``KEY=VALUE``) as a ``--set``. More than one worker, or ``processes``,
    runs the workers as separate processes (Beam runs a single worker inside the launcher
    otherwise)."""
    args = ["run", str(recipe), "--input", str(corpus), "--output", str(out)]
    args += ["--overwrite", "--quiet"]
    for item in overrides:
        args += ["--set", item]
    if workers > 1 or processes:
        args += ["--direct_num_workers", str(workers), "--direct_running_mode", "multi_processing"]
    return args


def run_thresher(
    corpus: Path,
    out: Path,
    *,
    recipe: Path = DEFAULT_RECIPE,
    overrides: Sequence[str] = (),
    workers: int = 1,
    processes: bool = False,
    env: dict[str, str] | None = None,
    handoff_report: Path | None = None,
) -> ThresherRun:
    """One measured ``thresher run`` (see ``thresher_args``); exits with the end of its stderr
    when it fails. ``handoff_report``: run it under ``benchmarks.runner_handoff``, which writes
    the largest input the local runner handed one worker to that file."""
    args = thresher_args(
        corpus, out, recipe=recipe, overrides=overrides, workers=workers, processes=processes
    )
    env = {"THRESHER_PROGRESS": "0", **(env or {})}
    if handoff_report is None:
        cmd = [str(THRESHER), *args]
    else:
        cmd = [sys.executable, "-m", "benchmarks.runner_handoff", *args]
        env["THRESHER_HANDOFF_REPORT"] = str(handoff_report)
    run = measure_command(cmd, env)
    if run.returncode != 0:
        raise SystemExit(run.stderr[-3000:])
    manifest = json.loads((out / "manifest.json").read_text())
    return ThresherRun(run.memory, manifest)
