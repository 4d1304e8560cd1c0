"""``thresher.allocator``: worker processes keep the heap memory they free. Measured on a
real process: the page faults of a thread that allocates, fills and frees the same large
buffer again and again, as a PII batch does with the NER's arrays."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from thresher import allocator

pytestmark = pytest.mark.skipif(not allocator.glibc(), reason="mallopt is glibc's")

_CHURN = """
import json, resource, sys, threading
from thresher import allocator
kept = allocator.keep_freed_memory() if sys.argv[1] == "keep" else allocator.kept()
again = allocator.keep_freed_memory() if kept else None
def churn():
    for _ in range(12):
        buf = bytearray(48 << 20)  # filled with zeros: every page is touched
        del buf
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
worker = threading.Thread(target=churn)
worker.start()
worker.join()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"kept": kept, "again": again, "faults": faults}))
"""


def _churn(mode: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _CHURN, mode], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_a_process_that_keeps_freed_memory_faults_its_pages_in_once():
    default, kept = _churn("default"), _churn("keep")
    assert default["kept"] is False and kept["kept"] is True and kept["again"] is True
    pages = (48 << 20) // 4096
    # glibc's defaults map and unmap the buffer every time: each round faults every page
    assert default["faults"] >= 10 * pages
    # kept: the first round faults the pages in, later rounds reuse them
    assert kept["faults"] < 3 * pages
