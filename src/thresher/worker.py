"""What kind of process this is: a Beam SDK worker process (one Beam started, or one forked
ready by ``thresher.warm``), or a launcher or in-process runner. Stages that keep per-process
state for the life of a worker ask here."""

from __future__ import annotations

import sys

BEAM_WORKER = "apache_beam.runners.worker.sdk_worker_main"

# Set by ``thresher.warm`` in the workers it forks (their ``__main__`` is not Beam's module).
FORKED = False


def in_worker_process() -> bool:
    """Whether this process is a Beam SDK worker process: one Beam started
    (``python -m apache_beam.runners.worker.sdk_worker_main``) or one forked warm."""
    main = sys.modules.get("__main__")
    return FORKED or getattr(getattr(main, "__spec__", None), "name", None) == BEAM_WORKER
