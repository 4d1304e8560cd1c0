"""The worker command of a run with warm workers (``thresher.warm``): ask the warm server for
a worker forked from it, wait for that worker to end, and exit with its status. Where the
server cannot be reached, become Beam's ordinary worker process instead. The standard
library and ``thresher.worker`` only: this runs once per worker, before anything is loaded."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from typing import NoReturn

from thresher.worker import BEAM_WORKER

SOCKET_ENV = "THRESHER_WARM_SOCKET"  # the server's socket
PID_ENV = "THRESHER_WARM_PID"  # the server's process id
CONNECT_S = 30.0


def beam_worker() -> NoReturn:
    """Replace this process with Beam's own worker (same environment, same arguments)."""
    os.execv(sys.executable, [sys.executable, "-m", BEAM_WORKER])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _connect(path: str, server_pid: int) -> socket.socket | None:
    """A connection to the server; None when it is gone (or never listened)."""
    deadline = time.monotonic() + CONNECT_S
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except OSError:
            sock.close()
            if time.monotonic() > deadline or not _alive(server_pid):
                return None
            time.sleep(0.05)


def main() -> int:
    path = os.environ.get(SOCKET_ENV)
    server_pid = int(os.environ.get(PID_ENV) or 0)
    sock = _connect(path, server_pid) if path and server_pid else None
    if sock is None:
        beam_worker()
    request = {"env": dict(os.environ), "cwd": os.getcwd()}
    with sock, sock.makefile("rb") as replies:
        try:
            sock.sendall(json.dumps(request).encode() + b"\n")
            first = replies.readline().decode().split()
        except OSError:
            first = []
        if first[:1] != ["pid"]:
            beam_worker()  # the server went away before it forked a worker
        worker = int(first[1])
        last = replies.readline().decode().split()
    if last[:1] == ["exit"]:
        return int(last[1])
    while _alive(worker):  # the server went away; the worker may still be running
        time.sleep(0.2)
    print("thresher: warm worker server ended before its worker did", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
