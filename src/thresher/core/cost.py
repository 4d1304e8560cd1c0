"""A cost model for running a recipe on Dataflow, from measured throughput.

Assumptions are parameters (``cost.*`` in the recipe) and are written into every estimate, so a
reader can redo the arithmetic. The model: a worker with ``vcpus_per_worker`` vCPUs processes
``vcpus_per_worker * docs_per_core_second`` documents per second (measured on one core, which
assumes the pipeline scales across cores as the two-worker benchmark shows); Dataflow bills vCPU
hours, memory GB-hours and shuffled GB; the shuffle volume is ``shuffle_factor`` times the input
bytes (every record crosses the exact-dedup, near-dedup and write shuffles).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Prices:
    # Dataflow batch list prices (us-central1), checked 2026-11; override in the recipe.
    vcpu_hour_usd: float = 0.056
    memory_gb_hour_usd: float = 0.003557
    shuffle_gb_usd: float = 0.011
    vcpus_per_worker: int = 4
    memory_gb_per_worker: float = 16.0
    shuffle_factor: float = 3.0


def estimate(
    docs_per_core_second: float, mean_doc_bytes: float, prices: Prices = Prices()
) -> dict[str, Any]:
    """Worker-hours and USD per million documents and per TB of input text."""
    if docs_per_core_second <= 0 or mean_doc_bytes <= 0:
        return {"available": False, "why": "no throughput measured"}
    worker_docs_per_s = docs_per_core_second * prices.vcpus_per_worker
    hours_per_million = 1e6 / worker_docs_per_s / 3600
    compute_per_hour = (
        prices.vcpus_per_worker * prices.vcpu_hour_usd
        + prices.memory_gb_per_worker * prices.memory_gb_hour_usd
    )
    shuffle_per_million = 1e6 * mean_doc_bytes * prices.shuffle_factor / 1e9 * prices.shuffle_gb_usd
    usd_per_million = hours_per_million * compute_per_hour + shuffle_per_million
    docs_per_tb = 1e12 / mean_doc_bytes
    return {
        "available": True,
        "docs_per_core_second": round(docs_per_core_second, 2),
        "mean_doc_bytes": round(mean_doc_bytes, 1),
        "worker_hours_per_million_docs": round(hours_per_million, 3),
        "usd_per_million_docs": round(usd_per_million, 2),
        "worker_hours_per_tb": round(hours_per_million * docs_per_tb / 1e6, 1),
        "usd_per_tb": round(usd_per_million * docs_per_tb / 1e6, 2),
        "assumptions": asdict(prices),
    }
