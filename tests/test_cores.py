"""``thresher.cores``: the free cores a local run picks its worker count from are measured now
(``/proc/stat`` over a short sample), not read from the lagging 1-minute load average."""

from __future__ import annotations

import os
import sys
import time

import pytest

from thresher import cores

STAT_BEFORE = """cpu  300 0 30 700 10 0 0 0 0 0
cpu0 100 0 10 380 10 0 0 0 0 0
cpu1 200 0 20 320 0 0 0 0 0 0
intr 12345 0 0
ctxt 999
"""
# cpu0: 100 ticks pass, 95 idle (5% busy); cpu1: 100 ticks pass, none idle (fully busy)
STAT_AFTER = """cpu  405 0 30 795 10 0 0 0 0 0
cpu0 105 0 10 475 10 0 0 0 0 0
cpu1 300 0 20 320 0 0 0 0 0 0
intr 12399 0 0
"""


def test_cpu_times_reads_idle_and_total_of_the_cores_asked_for():
    times = cores.cpu_times(STAT_BEFORE, {0, 1})
    assert times == {0: (390, 500), 1: (320, 540)}  # idle = idle + iowait
    assert cores.cpu_times(STAT_BEFORE, {1}) == {1: (320, 540)}  # not this process's: skipped
    assert cores.cpu_times("intr 1 2\nctxt 3\n", {0}) == {}


def test_stolen_time_counts_as_busy():
    before = cores.cpu_times("cpu0 0 0 0 0 0 0 0 0 0 0\n", {0})
    after = cores.cpu_times("cpu0 0 0 0 50 0 0 0 50 0 0\n", {0})  # half idle, half stolen
    assert cores.busy_between(before, after) == pytest.approx(0.5)


def test_busy_cores_over_a_sample():
    readings = iter([STAT_BEFORE, STAT_AFTER])
    slept: list[float] = []
    busy = cores.busy_cores({0, 1}, 0.25, read=lambda: next(readings), sleep=slept.append)
    assert busy == pytest.approx(0.05 + 1.0)
    assert slept == [0.25]


def test_busy_cores_leaves_out_what_the_helpers_used():
    """The launch's warm server imports during the sample: its ticks are not load."""
    readings = iter([STAT_BEFORE, STAT_AFTER])
    ticks = iter([1_000, 1_080])  # 80 of the 100 ticks each core ran were the helper's
    asked: list[list[int]] = []

    def helper_ticks(pids):
        asked.append(list(pids))
        return next(ticks)

    busy = cores.busy_cores(
        {0, 1},
        0.25,
        read=lambda: next(readings),
        sleep=lambda s: None,
        helpers=[42],
        helper_ticks=helper_ticks,
    )
    assert busy == pytest.approx(0.05 + 1.0 - 0.8)
    assert asked == [[42], [42]]
    readings = iter([STAT_BEFORE, STAT_AFTER])
    ticks = iter([0, 500])  # more than was busy: never below none
    assert cores.busy_cores(
        {0, 1},
        0.25,
        read=lambda: next(readings),
        sleep=lambda s: None,
        helpers=[42],
        helper_ticks=lambda pids: next(ticks),
    ) == pytest.approx(0.0)


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux's /proc/stat")
def test_a_helper_keeping_a_core_busy_is_not_load():
    """The real counters: a child spinning on one core through the sample is about one busy
    core, and its share is no load once it is named a helper."""
    import subprocess

    cpu = min(cores.usable_cpus())
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        os.sched_setaffinity(spinner.pid, {cpu})
        time.sleep(0.2)  # past the interpreter's start
        seen = cores.busy_cores({cpu}, 0.4)
        helped = cores.busy_cores({cpu}, 0.4, helpers=[spinner.pid])
        assert cores.process_ticks([spinner.pid]) > 0
    finally:
        spinner.kill()
        spinner.wait()
    assert seen is not None and seen >= 0.7
    # what else ran on the core stays load; the helper's share (most of it) is taken off
    assert helped is not None and seen - helped >= 0.4
    assert cores.process_ticks([spinner.pid]) == 0  # gone: nothing to read


def test_busy_cores_is_unknown_without_proc_stat():
    def missing() -> str:
        raise FileNotFoundError("/proc/stat")

    assert cores.busy_cores({0}, 0.0, read=missing, sleep=lambda s: None) is None
    readings = iter(["intr 1\n", "intr 2\n"])
    assert cores.busy_cores({0}, 0.0, read=lambda: next(readings), sleep=lambda s: None) is None


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux's /proc/stat")
def test_a_core_this_process_keeps_busy_is_measured_busy():
    """The real counters: spinning on one core through the sample shows as about one busy
    core (another process sharing it would be busy time too)."""
    cpu = min(cores.usable_cpus())
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:

        def spin(seconds: float) -> None:
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                pass

        busy = cores.busy_cores({cpu}, 0.3, sleep=spin)
    finally:
        os.sched_setaffinity(0, old)
    assert busy is not None and busy >= 0.7  # parsed wrong, it would read about 0


def test_quota_cores_reads_cgroup_v2_and_v1(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cores.quota_cores(tmp_path) == 2  # 1.5 cores: rounded up
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cores.quota_cores(tmp_path) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cores.quota_cores(v1) == 3
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cores.quota_cores(v1) is None
    assert cores.quota_cores(tmp_path / "absent") is None
    (tmp_path / "cpu.max").write_text("garbage\n")
    assert cores.quota_cores(tmp_path) is None


@pytest.mark.parametrize(
    ("cpus", "busy", "quota", "expected"),
    [
        (4, 0.1, None, 4),  # idle machine: every core
        (4, 1.4, None, 3),  # one busy core (and some noise)
        (4, 1.6, None, 2),  # a core busy more than half the time is taken
        (2, 2.0, None, 1),  # all busy: still one
        (16, 0.0, 2, 2),  # a container's quota caps it
    ],
)
def test_free_cores(monkeypatch, cpus, busy, quota, expected):
    monkeypatch.setattr(cores, "usable_cpus", lambda: set(range(cpus)))
    monkeypatch.setattr(cores, "busy_cores", lambda c, s, helpers=(): busy)
    monkeypatch.setattr(cores, "quota_cores", lambda: quota)
    assert cores.free_cores() == expected


def test_free_cores_falls_back_to_the_load_average(monkeypatch):
    monkeypatch.setattr(cores, "usable_cpus", lambda: {0, 1, 2, 3})
    monkeypatch.setattr(cores, "busy_cores", lambda c, s, helpers=(): None)
    monkeypatch.setattr(cores, "quota_cores", lambda: None)
    monkeypatch.setattr(os, "getloadavg", lambda: (2.2, 0.0, 0.0))
    assert cores.free_cores() == 2


@pytest.mark.skipif(sys.platform != "linux", reason="Linux counters")
def test_free_cores_on_this_machine_is_within_its_cores():
    assert 1 <= cores.free_cores(0.05) <= len(cores.usable_cpus())


def test_loopback_works_here():
    assert cores.loopback_works()


def _can_unshare_network() -> bool:
    import shutil
    import subprocess

    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


def test_loopback_is_down_in_a_namespace_without_network():
    """``unshare -n``: a fresh network namespace whose loopback is down, as in some sandboxes
    (binding works, connecting does not)."""
    import subprocess

    if not _can_unshare_network():
        pytest.skip("unshare -n is not permitted here (needs root or user namespaces)")
    code = "from thresher.cores import loopback_works; print(loopback_works(0.5))"
    out = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
