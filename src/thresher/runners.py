"""Which Beam runners run a pipeline on this machine alone."""

from __future__ import annotations

from typing import Any

# Beam's local runners, by the name ``--runner`` gives (module paths allowed).
LOCAL_RUNNERS = frozenset(
    {"FnApiRunner", "DirectRunner", "BundleBasedDirectRunner", "SwitchingDirectRunner"}
)


def is_local(runner: Any) -> bool:
    """Whether ``runner`` (a ``--runner`` value; None for Beam's default, the DirectRunner)
    runs the pipeline in this process and its local workers."""
    name = "DirectRunner" if runner is None else str(runner)
    return name.rsplit(".", 1)[-1] in LOCAL_RUNNERS
