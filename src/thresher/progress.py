"""Live progress for local runs: per-process counters printed every few seconds.

Display only: the counts are not the run's books (lineage and the manifest are). Each worker
process keeps its own counters, so in multi-process runs every process reports its share. This
per-process state is deliberate and harmless: nothing reads it back into results.
Enabled by ``THRESHER_PROGRESS=1`` (the CLI sets it for local runners).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter

_INTERVAL_S = float(os.environ.get("THRESHER_PROGRESS_INTERVAL", "5"))
# Pipeline order (thresher.plan), then the writers.
_ORDER = (
    "read",
    "forget",
    "normalize",
    "exact_dedup",
    "decontaminate",
    "filter_language",
    "filter_quality",
    "length",
    "near_dedup",
    "pii",
    "flag_bias",
    "write",
    "data",
)


class _Reporter:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.thread: threading.Thread | None = None
        self.last_total = 0

    def tick(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counts[name] += n
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, daemon=True)
                self.thread.start()

    def _loop(self) -> None:
        while True:
            time.sleep(_INTERVAL_S)
            with self.lock:
                snapshot = dict(self.counts)
            total = sum(snapshot.values())
            if total == self.last_total:
                continue
            self.last_total = total
            elapsed = max(time.monotonic() - self.started, 1e-9)
            names = sorted(snapshot, key=lambda k: (_ORDER.index(k) if k in _ORDER else 99, k))
            parts = [f"{k} {snapshot[k]:,} ({snapshot[k] / elapsed:,.0f}/s)" for k in names]
            workers = os.environ.get("THRESHER_WORKERS", "1")
            head = f"[thresher pid {os.getpid()} of {workers} worker(s)] " + (
                f"{_batch} | " if _batch else ""
            )
            print(head + " | ".join(parts), file=sys.stderr, flush=True)


_reporter: _Reporter | None = None
_batch = ""


def enabled() -> bool:
    return os.environ.get("THRESHER_PROGRESS") == "1"


def start_batch(number: int, total: int) -> None:
    """Batched runs: label this process's progress lines ``batch N/M`` and restart its counts
    and rates for the new batch (worker processes of multi-process runs keep their own)."""
    global _batch
    _batch = f"batch {number}/{total}"
    if _reporter is not None:
        with _reporter.lock:
            _reporter.counts.clear()
            _reporter.started = time.monotonic()
            _reporter.last_total = 0
    if enabled():
        print(f"[thresher] {_batch}", file=sys.stderr, flush=True)


def tick(name: str, n: int = 1) -> None:
    """Count ``n`` elements through ``name`` in this process (no-op unless enabled)."""
    global _reporter
    if os.environ.get("THRESHER_PROGRESS") != "1":
        return
    if _reporter is None:
        _reporter = _Reporter()
    _reporter.tick(name, n)
