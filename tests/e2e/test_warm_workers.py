"""Warm local workers (``thresher.warm``): Beam's worker processes forked from a server that
loaded Beam and the PII analyzer while the launcher built the graph. Real Beam pipelines on
real worker processes; the output must not depend on whether the workers were warm."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import select
import subprocess
import sys
import time

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tests.conftest import read_parquet_dir
from thresher import warm, worker
from thresher.config import PiiConfig, PipelineConfig
from thresher.records import Document
from thresher.run import execute, pipeline_options
from thresher.stages.pii import AnonymizePii

pytestmark = pytest.mark.skipif(not warm.supported(), reason="warm workers need fork (Linux)")

KEY = b"warm-workers-test-key-0123456789abcdef"
DOCS = [
    Document(
        id=f"d{i}",
        text=f"Call Ann Lee on (212) 555-01{i:02d} about case {i}.",
        source="s",
        position=i,
    )
    for i in range(6)
]


def _where_am_i(
    doc: Document,
) -> tuple[bool, bool, bool, int, int, bool, bool, bool, bool, int, bool]:
    """(in a worker process, forked by the warm server, models frozen, resident processors,
    processors that took the prebuilt analyzer, Beam's introspection memoized, garbage
    collection on, freed memory kept, pandas hidden after a pyarrow table from Python
    objects, the sampling period of the bundle's state sampler, bundle processors built in
    the calling thread), seen from inside a worker."""
    import gc
    import sys

    import pyarrow as pa
    from apache_beam.runners.worker import bundle_processor, statesampler

    from thresher import allocator, construction, warm, worker
    from thresher.pii import process
    from thresher.stages import pii

    forked = worker.FORKED and str(os.getppid()) == os.environ.get(warm.PID_ENV)
    return (
        worker.in_worker_process(),
        forked,
        gc.get_freeze_count() > 0,
        len(pii._RESIDENT),
        process.PREBUILT_TAKEN,
        construction.active(),
        gc.isenabled(),  # the server loads with it off: its children must have it back
        allocator.kept() or not allocator.glibc(),
        pa.Table.from_pylist([{"id": doc.id}]).num_rows == 1 and "pandas" not in sys.modules,
        statesampler.get_current_tracker().sampling_period_ms,
        bundle_processor.concurrent.futures.ThreadPoolExecutor is construction._InlineExecutor,
    )


def _key_file(tmp_path) -> str:
    path = tmp_path / "pii.key"
    path.write_bytes(KEY)
    return str(path)


def test_workers_fork_from_the_server_and_take_its_analyzer(tmp_path):
    """The command's way: the server is started before the recipe is read, then told it."""
    cfg = PipelineConfig(pii=PiiConfig(key_file=_key_file(tmp_path), batch_size=2))
    early = warm.spawn()
    with warm.serving(cfg, 2, early=early) as server:
        assert server is early
        with warm.serving(cfg, 2) as inner:  # re-entrant: the same server
            assert inner is server
        assert os.environ[warm.SOCKET_ENV] == server.path
        options = pipeline_options([], workers=2)
        with TestPipeline(runner=warm.runner(), options=options) as p:
            out = p | beam.Create(DOCS) | AnonymizePii(cfg.pii)
            seen = out["main"] | beam.Map(_where_am_i) | beam.Distinct()
            assert_that(
                seen, equal_to([(True, True, True, 1, 1, True, True, True, True, 10, True)])
            )
    assert server.proc.returncode is not None  # stopped with the block
    assert not os.path.exists(server.folder)  # socket removed
    assert warm.SOCKET_ENV not in os.environ and warm.PID_ENV not in os.environ
    assert warm.runner() is None
    assert not worker.FORKED  # the launcher itself is no worker


def test_no_server_for_one_worker_or_when_switched_off():
    cfg = PipelineConfig()
    with warm.serving(cfg, 1) as server:
        assert server is None and warm.runner() is None
    off = PipelineConfig.model_validate({"local": {"warm_workers": False}})
    with warm.serving(off, 4) as server:
        assert server is None


@pytest.mark.parametrize(("config", "workers"), [({}, 1), ({"local": {"warm_workers": False}}, 4)])
def test_a_server_started_ahead_and_not_wanted_is_stopped(config, workers):
    early = warm.spawn()  # still importing Beam when it is stopped
    assert os.environ[warm.SOCKET_ENV] == early.path
    with warm.serving(PipelineConfig.model_validate(config), workers, early=early) as server:
        assert server is None and warm.runner() is None
        assert early.proc.returncode is not None
        assert not os.path.exists(early.folder)
        assert warm.SOCKET_ENV not in os.environ and warm.PID_ENV not in os.environ


def test_a_worker_without_a_reachable_server_is_beams_own(tmp_path, monkeypatch):
    """The client turns itself into Beam's ordinary worker when no server answers."""
    monkeypatch.setenv(warm.SOCKET_ENV, str(tmp_path / "nothing.sock"))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    monkeypatch.setenv(warm.PID_ENV, str(gone.pid))
    cfg = PiiConfig(key_file=_key_file(tmp_path), batch_size=2)
    runner = warm._runner_class()(f"{sys.executable} -m {warm.CLIENT_MODULE}")
    with TestPipeline(runner=runner, options=pipeline_options([], workers=2)) as p:
        out = p | beam.Create(DOCS) | AnonymizePii(cfg)
        seen = out["main"] | beam.Map(_where_am_i) | beam.Distinct()
        assert_that(
            seen, equal_to([(True, False, True, 1, 0, False, True, True, False, 200, False)])
        )


@pytest.mark.parametrize(
    "start",
    [
        "warm.start(PipelineConfig.model_validate({'pii': {'enabled': False}}))",
        "warm.spawn()",  # never told the recipe: it waits for it, then sees the launcher gone
    ],
)
def test_the_server_ends_with_its_launcher(tmp_path, start):
    code = (
        "from thresher import warm\n"
        "from thresher.config import PipelineConfig\n"
        f"s = {start}\n"
        "print(s.proc.pid, s.folder, flush=True)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    pid, folder = out.stdout.split()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            assert not os.path.exists(folder)  # it removed its socket
            return
        time.sleep(0.2)
    os.kill(int(pid), 9)
    pytest.fail("the warm server outlived the process that started it")


def _kernel_at_least(major: int, minor: int) -> bool:
    release = os.uname().release.split("-")[0].split(".")
    return (int(release[0]), int(release[1])) >= (major, minor)


def test_a_workers_end_descriptor_turns_readable_when_it_ends():
    """How the server hears of a worker's end at once (pidfd, Linux 5.3 and later)."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=-1)
    end = warm._end_descriptor(proc.pid)
    try:
        if not _kernel_at_least(5, 3):
            assert end is None  # the server falls back to its 0.1-s poll
            return
        assert end is not None
        assert select.select([end], [], [], 0)[0] == []  # still running
        proc.stdin.close()  # it reads to the end and exits
        assert select.select([end], [], [], 60)[0] == [end]
        assert proc.wait() == 0
    finally:
        if end is not None:
            os.close(end)
        proc.kill()
        proc.wait()


def test_each_client_hears_how_its_worker_ended(tmp_path):
    """Workers that end at once (no runner to serve: Beam's harness fails to start), one
    after another from one server: each client exits with its worker's status."""
    server = warm.start(PipelineConfig.model_validate({"pii": {"enabled": False}}))
    env = {k: v for k, v in os.environ.items() if k != "CONTROL_API_SERVICE_DESCRIPTOR"}
    try:
        codes = [
            subprocess.run(
                [sys.executable, "-m", warm.CLIENT_MODULE],
                env=env,
                capture_output=True,
                timeout=120,
            ).returncode
            for _ in range(3)
        ]
        assert server.proc.poll() is None  # still serving
    finally:
        server.close()
    assert codes == [1, 1, 1]


def _rows(out) -> list[str]:
    return sorted(
        json.dumps(r, sort_keys=True, default=str) for r in read_parquet_dir(out / "data")
    )


# conversations (with bad records to dead-letter) and instruction pairs
CHAT_FILES = ["sample_data/chat/openai.jsonl", "sample_data/chat/alpaca.json"]


def test_warm_and_cold_workers_write_the_same_output(tmp_path):
    """Documents, conversations and instruction pairs, every stage of the default recipe."""
    src = tmp_path / "in.jsonl"
    with gzip.open("sample_data/web/crawl-000.jsonl.gz", "rt", encoding="utf-8") as f:
        lines = list(itertools.islice(f, 60))
    src.write_text("".join(lines), encoding="utf-8")
    outs = {}
    for warm_workers in (True, False):
        out = tmp_path / f"out-{warm_workers}"
        config = PipelineConfig.model_validate(
            {
                "input": {
                    "paths": [str(src), *CHAT_FILES],
                    "per_file": [
                        {"match": "openai.jsonl", "record": "chat"},
                        {"match": "alpaca.json", "record": "instruction"},
                    ],
                },
                "output": {"path": str(out)},
                "pii": {"key_file": _key_file(tmp_path)},
                "local": {"warm_workers": warm_workers},
                "limits": {"max_dead_letter_fraction": 0.5},  # the chat file's bad records
            }
        )
        outcome = execute(config, workers=2)
        assert outcome.succeeded
        outs[warm_workers] = (out, outcome.manifest)
    (warm_out, warm_m), (cold_out, cold_m) = outs[True], outs[False]
    assert _rows(warm_out) == _rows(cold_out)
    assert warm_m.counts == cold_m.counts and warm_m.stages == cold_m.stages
    rows = read_parquet_dir(warm_out / "data")
    assert any(r["messages"] for r in rows) and any(not r["messages"] for r in rows)
    assert warm_m.counts.kept > 0 and warm_m.counts.dead_letter > 0
    assert warm_m.accounting.balanced
