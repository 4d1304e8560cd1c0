"""How many CPU cores a local run can use now: the cores this process may run on, capped by a
container's CPU quota, less those that are busy at the moment of the launch.

"Busy" is measured, not guessed from the 1-minute load average: that average lags by about a
minute, so a run started just after another CPU-heavy job (a benchmark's baseline, the
previous run of a script) saw a busy machine that was in fact idle and ran on one worker. On
Linux the per-core counters of ``/proc/stat`` are read twice, ``SAMPLE_S`` apart, and a core
counts as busy when it was busy at least half of that time; elsewhere the load average stands
in. The launch's own helpers running during the sample (the warm server, ``thresher.warm``)
are not load: the CPU time they used in it, from ``/proc/<pid>/stat``, is taken off.
"""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from thresher.config import PipelineConfig

SAMPLE_S = 0.25
PROC_STAT = Path("/proc/stat")
CGROUP_ROOT = Path("/sys/fs/cgroup")

# /proc/stat columns after the name: user nice system idle iowait irq softirq steal (guest and
# guest_nice are already inside user and nice). Idle time is idle + iowait; stolen time is
# time the core was not ours.
_IDLE_COLUMNS = (3, 4)
_COUNTED_COLUMNS = 8


def cpu_times(text: str, cpus: Collection[int]) -> dict[int, tuple[int, int]]:
    """(idle, total) clock ticks of each core in ``cpus`` from ``/proc/stat``'s ``text``.

    >>> cpu_times("cpu  9 0 1 90 0 0 0 0 0 0\\ncpu0 4 0 1 45 0 0 0 0 0 0\\n", {0})
    {0: (45, 50)}
    """
    times: dict[int, tuple[int, int]] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or not name[3:].isdigit() or int(name[3:]) not in cpus:
            continue
        ticks = [int(v) for v in rest.split()[:_COUNTED_COLUMNS]]
        times[int(name[3:])] = (sum(ticks[i] for i in _IDLE_COLUMNS if i < len(ticks)), sum(ticks))
    return times


def busy_between(before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]]) -> float:
    """Busy cores (a fraction per core, summed) between two ``cpu_times`` readings."""
    busy = 0.0
    for cpu, (idle1, total1) in after.items():
        if cpu not in before:
            continue
        idle0, total0 = before[cpu]
        elapsed = total1 - total0
        if elapsed > 0:
            busy += 1.0 - min(max(idle1 - idle0, 0), elapsed) / elapsed
    return busy


def process_ticks(pids: Collection[int], proc: Path = Path("/proc")) -> int:
    """User plus system clock ticks used so far by the processes ``pids`` (those still
    readable in ``/proc``), in the unit of ``/proc/stat``."""
    ticks = 0
    for pid in pids:
        try:
            stat = (proc / str(pid) / "stat").read_text()
            # the fields after the command name (which may hold spaces), from the 3rd on
            fields = stat[stat.rindex(")") + 2 :].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15
        except (OSError, ValueError, IndexError):
            continue
    return ticks


def quota_cores(root: Path = CGROUP_ROOT) -> int | None:
    """Whole cores a cgroup CPU quota allows (v2 ``cpu.max``, else v1 ``cpu.cfs_quota_us``),
    rounded up; None where there is no quota or it cannot be read."""
    try:
        v2 = root / "cpu.max"
        if v2.is_file():
            quota, _, period = v2.read_text().strip().partition(" ")
            if quota == "max":
                return None
            return max(1, math.ceil(int(quota) / int(period or 100_000)))
        v1 = root / "cpu" / "cpu.cfs_quota_us"
        if v1.is_file():
            quota_us = int(v1.read_text())
            if quota_us <= 0:
                return None
            period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
            return max(1, math.ceil(quota_us / period_us))
    except (OSError, ValueError):
        return None
    return None


def usable_cpus() -> set[int]:
    """The cores this process may run on (its affinity; every core where that is unknown)."""
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return set(range(os.cpu_count() or 1))


def busy_cores(
    cpus: Collection[int],
    sample_s: float = SAMPLE_S,
    read: Callable[[], str] = PROC_STAT.read_text,
    sleep: Callable[[float], None] = time.sleep,
    helpers: Collection[int] = (),
    helper_ticks: Callable[[Collection[int]], int] = process_ticks,
) -> float | None:
    """Cores of ``cpus`` busy over the next ``sample_s`` seconds, less the CPU time the
    processes ``helpers`` used meanwhile; None where ``/proc/stat`` cannot be read (then the
    caller falls back to the load average)."""
    try:
        before = cpu_times(read(), cpus)
        helped = helper_ticks(helpers) if helpers else 0
        sleep(sample_s)
        after = cpu_times(read(), cpus)
        helped = helper_ticks(helpers) - helped if helpers else 0
    except (OSError, ValueError):
        return None
    if not before or not after:
        return None
    busy = busy_between(before, after)
    elapsed = [after[c][1] - before[c][1] for c in after if c in before]
    per_core = sum(elapsed) / len(elapsed) if elapsed else 0
    if helped > 0 and per_core > 0:
        busy = max(0.0, busy - helped / per_core)
    return busy


def free_cores(sample_s: float = SAMPLE_S, helpers: Collection[int] = ()) -> int:
    """Cores a local run can use now (at least 1): the usable cores, at most the quota, less
    the ones busy now (``busy_cores``, without what the processes ``helpers`` used; the
    1-minute load average where that is unknown)."""
    cpus = usable_cpus()
    busy = busy_cores(cpus, sample_s, helpers=helpers)
    if busy is None:
        try:
            busy = os.getloadavg()[0]
        except OSError:
            busy = 0.0
    free = len(cpus) - math.floor(busy + 0.5)  # a core busy half the time or more is taken
    quota = quota_cores()
    if quota is not None:
        free = min(free, quota)
    return max(1, free)


def loopback_works(timeout_s: float = 1.0) -> bool:
    """Whether this machine can open a TCP connection to itself on ``localhost``. Beam's local
    worker processes talk to the launcher over gRPC on localhost; where loopback is down (a
    sandbox's network namespace, ``unshare -n``) they never connect and the run would wait
    for them forever, so a local run stays in one process there."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
            server.bind(("localhost", 0))
            server.listen(1)
            with socket.create_connection(server.getsockname(), timeout=timeout_s):
                return True
    except OSError:
        return False


# Each local worker process loads its own spaCy model (a few hundred MB): cap the default.
MAX_LOCAL_WORKERS = 8


def local_workers(
    config: PipelineConfig,
    beam_args: Sequence[str],
    cores: int | None = None,
    helpers: Collection[int] = (),
) -> int:
    """Worker processes for a run: with no Beam option at all and the CPU-heavy PII stage on,
    one per free core (``free_cores``, at most ``MAX_LOCAL_WORKERS``; the processes ``helpers``,
    started by this launch, are not load) when more than one is free and worker processes can
    reach this one (``loopback_works``); else 1 (Beam's own
    default). Any explicit Beam option wins: the run is then exactly what the options say.
    Output does not depend on the worker count. Here, not in ``thresher.run``, so that the
    command can decide before it imports Beam (``thresher.warm`` starts early)."""
    if beam_args or not config.pii.enabled:
        return 1
    free = free_cores(helpers=helpers) if cores is None else cores
    if free < 2 or not loopback_works():
        return 1
    return min(free, MAX_LOCAL_WORKERS)
