"""What Beam's local FnApiRunner hands one worker process at once.

The local runner is its own shuffle: it keeps every grouped or materialized PCollection in the
launcher, and before each bundle starts it sends a worker that bundle's whole input (its share
of the stage's input, one ``GroupingBuffer.partition`` blob per worker) and only then asks the
worker to process it. A worker therefore holds its entire share of a stage's input while it
works, whatever the pipeline does with it; Dataflow and Flink stream shuffled data to workers
instead. This module measures that hand-off so the benchmarks can tell the runner's part of a
worker's memory from the pipeline's.

Observation only: ``install`` wraps the runner's send method, counts the bytes and calls the
original unchanged. Benchmarks only; thresher never imports this.

    # the thresher CLI with the probe; the largest hand-off lands in $THRESHER_HANDOFF_REPORT
    THRESHER_HANDOFF_REPORT=/tmp/h.json .venv/bin/python -m benchmarks.runner_handoff run ...
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

_seen: list[tuple[str, str, str, int]] = []  # (bundle, fused stage, input step, bytes)


def install() -> bool:
    """Start counting; False when this Beam's local runner has no such method (then nothing
    is counted and ``summary`` says so)."""
    try:
        from apache_beam.runners.portability.fn_api_runner import fn_runner
    except ImportError:
        return False
    manager = getattr(fn_runner, "BundleManager", None)
    original = getattr(manager, "_send_input_to_worker", None)
    if original is None or getattr(original, "_counted", False):
        return original is not None

    def counted(self: Any, bundle_id: str, transform_id: str, byte_streams: Any) -> Any:
        streams = list(byte_streams or [])
        stage = getattr(getattr(self.bundle_context_manager, "stage", None), "name", "?")
        _seen.append((bundle_id, stage, transform_id, sum(len(b) for b in streams)))
        return original(self, bundle_id, transform_id, streams)

    counted._counted = True  # type: ignore[attr-defined]
    manager._send_input_to_worker = counted  # type: ignore[union-attr]
    return True


def summary() -> dict[str, Any]:
    """The largest single hand-off (bytes, and the step it fed), the largest bundle (all of one
    bundle's inputs together, and its fused stage's first steps), and how many there were."""
    if not _seen:
        return {
            "handoffs": 0,
            "largest_mb": None,
            "largest_step": None,
            "largest_bundle_mb": None,
            "largest_bundle_stage": None,
        }
    _bundle, _stage, step, size = max(_seen, key=lambda s: s[3])
    bundles: dict[str, list[Any]] = {}
    for bundle, stage, _step, n in _seen:
        bundles.setdefault(bundle, [stage, 0])[1] += n
    stage, total = max(bundles.values(), key=lambda b: b[1])
    return {
        "handoffs": len(_seen),
        "largest_mb": round(size / 1e6, 1),
        "largest_step": step,
        "largest_bundle_mb": round(total / 1e6, 1),
        "largest_bundle_stage": stage[:120],
    }


def reset() -> None:
    _seen.clear()


def main() -> int:
    install()
    from thresher.cli import main as thresher_main

    try:
        return thresher_main(sys.argv[1:])
    finally:
        report = os.environ.get("THRESHER_HANDOFF_REPORT")
        if report:
            with open(report, "w") as fh:
                json.dump(summary(), fh)


if __name__ == "__main__":
    sys.exit(main())
