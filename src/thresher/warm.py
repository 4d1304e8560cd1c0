"""Warm local workers: Beam's local worker processes forked, ready, from one that has already
loaded Beam's SDK harness, thresher's stages and the PII models.

Beam's local multi-process runner starts every worker as a new interpreter
(``python -m apache_beam.runners.worker.sdk_worker_main``) once the launcher has built the
graph: each worker then imports Beam (about 2 s) and, on its first PII batch, loads Presidio
and spaCy (3-4 s), while the launcher's own start (imports, graph) left the other cores idle.
Here the ``thresher run`` launcher starts one *warm server* process first thing, before it
reads the recipe or imports Beam itself (``spawn``, where the run may use worker processes:
no Beam option, several cores). The server imports Beam's harness and thresher's stages while
the launcher reads the recipe and measures the free cores; then the launcher either sends it
the recipe's PII and language settings (``WarmServer.configure``), which it loads next, or
stops it. The server does that loading once, in parallel with the launcher, then forks one
child per worker Beam asks for. Each
child is the worker: it runs Beam's own SDK harness (``sdk_worker_main.main``) with the
environment Beam gave the worker, and its PII stage takes the prebuilt analyzer
(``thresher.pii.process.prebuild``) instead of loading one.

What a worker computes is the same code on the same inputs: output does not depend on whether
workers are warm. The command Beam runs for a worker is ``python -m thresher.warm_client``,
which asks the server for a child and waits for it; where the server cannot be reached it
turns itself into Beam's ordinary worker. The server hears of a child's end through a pidfd
(Linux 5.3 and later; otherwise it polls every 0.1 s) and tells its client the exit status at
once: Beam's runner stops its workers one after another and waits for each client to exit,
so a poll delayed the end of every run by up to 0.1 s per worker. Used by the local
``FnApiRunner`` with worker processes on Linux only (``fork``), and only for runs that chose
their workers themselves (``local_workers``); ``local.warm_workers: false`` turns it off.

This module imports nothing heavy at the top: the launcher imports it before Beam.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import random
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from thresher.construction import gc_paused, without_pandas
from thresher.warm_client import PID_ENV, SOCKET_ENV

if TYPE_CHECKING:
    from thresher.config import PipelineConfig

# The client finds the server through SOCKET_ENV and PID_ENV (set in the launcher, inherited
# by Beam's workers).
CLIENT_MODULE = "thresher.warm_client"

_server: WarmServer | None = None


def supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork")


class WarmServer:
    """The launcher's handle on a running warm server process."""

    def __init__(self, proc: subprocess.Popen[bytes], folder: str, path: str) -> None:
        self.proc = proc
        self.folder = folder
        self.path = path

    def configure(self, config: PipelineConfig) -> None:
        """Send the server what ``config``'s stages load (once; it waits for this after its
        imports)."""
        language = config.filters.language
        spec = {
            "pii": config.pii.model_dump_json() if config.pii.enabled else None,
            "fasttext": config.filters.enabled
            and language.enabled
            and language.backend in ("fasttext", "cascade"),
        }
        stdin = self.proc.stdin  # a pipe (``spawn``)
        if stdin is None or stdin.closed:
            return
        try:
            stdin.write(json.dumps(spec).encode() + b"\n")
            stdin.close()
        except OSError:  # the server is gone: Beam's workers load for themselves
            pass

    def command(self) -> str:
        """The worker command line Beam runs (with ``shell=True``)."""
        return f"{shlex.quote(sys.executable)} -m {CLIENT_MODULE}"

    def runner(self) -> Any:
        """A local ``FnApiRunner`` whose worker processes come from this server."""
        return _runner_class()(self.command())

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()  # a server still waiting for its spec ends by itself
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for name in (SOCKET_ENV, PID_ENV):
            os.environ.pop(name, None)
        shutil.rmtree(self.folder, ignore_errors=True)  # the socket


def spawn() -> WarmServer:
    """Start a server that imports what every worker needs and then waits for
    ``WarmServer.configure`` (or to be stopped)."""
    folder = tempfile.mkdtemp(prefix="thresher-warm-")
    path = os.path.join(folder, "server.sock")
    proc = subprocess.Popen(
        [sys.executable, "-m", __name__, path, str(os.getpid())],
        stdin=subprocess.PIPE,
    )
    os.environ[SOCKET_ENV] = path
    os.environ[PID_ENV] = str(proc.pid)
    return WarmServer(proc, folder, path)


def start(config: PipelineConfig) -> WarmServer:
    """Start a server that prepares what ``config``'s stages load (the PII analyzer)."""
    server = spawn()
    server.configure(config)
    return server


def may_serve(beam_args: Sequence[str]) -> bool:
    """Whether a run with these Beam options could want a server (``wanted``) before its
    recipe is read: no Beam option, more than one usable core, a platform with ``fork``."""
    from thresher.cores import usable_cpus

    return not beam_args and supported() and len(usable_cpus()) > 1


def wanted(config: PipelineConfig, workers: int) -> bool:
    return workers > 1 and config.local.warm_workers and supported()


@contextlib.contextmanager
def serving(
    config: PipelineConfig, workers: int, early: WarmServer | None = None
) -> Iterator[WarmServer | None]:
    """A warm server for the duration of the block when the run uses worker processes
    (``wanted``); re-entrant: an enclosing block's server is used, not a second one. A server
    started ahead (``spawn``) is configured and used, or stopped when none is wanted."""
    global _server
    if _server is not None or not wanted(config, workers):
        if early is not None:
            early.close()
        yield _server
        return
    if early is not None:
        early.configure(config)
        _server = early
    else:
        _server = start(config)
    try:
        yield _server
    finally:
        server, _server = _server, None
        server.close()


def runner() -> Any:
    """The runner for a pipeline of the run in progress: warm workers when a server serves
    this run, else None (the options' runner)."""
    return None if _server is None else _server.runner()


def _runner_class() -> type:
    from apache_beam.portability import python_urns
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    class WarmFnApiRunner(FnApiRunner):
        """Beam's local runner with its worker command replaced by thresher's client. With
        worker processes (``direct_running_mode=multi_processing``) Beam's runner fixes the
        command itself; this swaps it in the pipeline it hands on, the only difference."""

        def __init__(self, command: str) -> None:
            super().__init__()
            self._warm_command = command.encode()

        def run_via_runner_api(self, pipeline_proto: Any, options: Any) -> Any:
            for env in pipeline_proto.components.environments.values():
                if env.urn == python_urns.SUBPROCESS_SDK:
                    env.payload = self._warm_command
            return super().run_via_runner_api(pipeline_proto, options)

    return WarmFnApiRunner


# --- the server process ---------------------------------------------------------------------


def _import() -> None:
    """What every worker imports, whatever the recipe: Beam's harness and thresher's stages
    (the modules their pickled functions need)."""
    import apache_beam.runners.worker.sdk_worker_main  # noqa: F401

    import thresher.pipeline  # noqa: F401 (every stage's module, reading and writing)


def _load(spec: dict[str, Any]) -> None:
    """What the recipe's stages load for themselves in every worker: the language model, the
    PII analyzer. A failure here leaves the workers to load it themselves."""
    if spec.get("fasttext"):
        from thresher.core import language

        language._fasttext_model()  # cached per process: the stage's detector reuses it
    if spec.get("pii"):
        from thresher.config import PiiConfig
        from thresher.pii.process import prebuild

        prebuild(PiiConfig.model_validate_json(spec["pii"]))


def _serve(argv: list[str]) -> None:
    # The server and the workers it forks run without pandas (``construction``): none of
    # thresher's stages uses it, yet Beam would import it here and pyarrow on each worker's
    # first write (0.2 s each).
    with without_pandas():
        _serve_hidden(argv)


def _serve_hidden(argv: list[str]) -> None:
    path, launcher = argv[0], int(argv[1])
    # Ctrl-C reaches the whole process group: the launcher and the workers handle it; the
    # server ends when its launcher does (or on SIGTERM from it)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from thresher.allocator import keep_freed_memory

    keep_freed_memory()  # before any thread starts: the workers forked from here inherit it
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)  # clients queue here while the loading below runs
    try:
        with gc_paused():  # what loading makes lives on: a collection would find nothing
            _import()
            line = sys.stdin.readline()  # the launcher's spec, once it has read the recipe
            if not line:  # the launcher wants no server, or went away
                if os.getppid() != launcher:
                    shutil.rmtree(os.path.dirname(path), ignore_errors=True)
                return
            _load(json.loads(line))
    except Exception as exc:  # the workers load it themselves
        print(f"thresher: warm workers: loading failed ({type(exc).__name__})", file=sys.stderr)
    _no_stdin()  # the workers forked from here read nothing from the launcher
    gc.freeze()  # the children's collections and exits skip what was loaded here
    # per worker: its client's connection and a descriptor that turns readable when the
    # worker ends (where the platform has them), so its client hears of it at once
    children: dict[int, tuple[socket.socket, int | None]] = {}
    while os.getppid() == launcher:
        ends = [fd for _, fd in children.values() if fd is not None]
        ready, _, _ = select.select([listener.fileno(), *ends], [], [], 0.1)
        if listener.fileno() in ready:
            conn, _ = listener.accept()
            try:
                pid = _fork_worker(listener, conn, ends)
                conn.sendall(f"pid {pid}\n".encode())
            except (OSError, ValueError):  # a client that went away: it ran nothing
                conn.close()
                continue
            children[pid] = (conn, _end_descriptor(pid))
        _reap(children)
    # the launcher ended without stopping the server (killed): leave nothing behind
    shutil.rmtree(os.path.dirname(path), ignore_errors=True)


def _no_stdin() -> None:
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)


def _end_descriptor(pid: int) -> int | None:
    """A descriptor that turns readable when process ``pid`` ends (Linux 5.3 and later), or
    None: the server then notices the end within its 0.1-s poll."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _fork_worker(listener: socket.socket, conn: socket.socket, ends: Sequence[int]) -> int:
    request = json.loads(_read_line(conn))
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        listener.close()
        conn.close()
        for fd in ends:  # the other workers' ends are the server's business
            os.close(fd)
        code = _work(request)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _work(request: dict[str, Any]) -> int:
    """In the child: become the worker Beam asked for."""
    from thresher import worker

    worker.FORKED = True
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    random.seed()
    from apache_beam.runners.worker import sdk_worker_main

    from thresher.construction import prompt_bundles, quick_construction

    try:
        # each stage's bundle processor introspects its freshly unpickled DoFns: memoized
        with quick_construction(), prompt_bundles():
            sdk_worker_main.main([])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def _reap(children: dict[int, tuple[socket.socket, int | None]]) -> None:
    """Collect the workers that ended and tell their clients how."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        child = children.pop(pid, None)
        if child is not None:
            conn, end = child
            if end is not None:
                os.close(end)
            with contextlib.suppress(OSError):
                conn.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
            conn.close()


def _read_line(conn: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode()


if __name__ == "__main__":
    _serve(sys.argv[1:])
