"""Path helpers that work for local paths and URIs without loading a filesystem plugin.

Building a pipeline graph for Dataflow on a laptop must not require the launcher to have the
``gs://`` filesystem installed; workers, which read and write, do have it.
"""

from __future__ import annotations

import os


def join_uri(base: str, *parts: str) -> str:
    if "://" in base:
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
    return os.path.join(base, *parts)
