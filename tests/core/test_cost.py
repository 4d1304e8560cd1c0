"""The cost model: arithmetic on stated assumptions (tier a)."""

import pytest

from thresher.core.cost import Prices, estimate


def test_estimate_arithmetic():
    p = Prices(
        vcpu_hour_usd=0.05,
        memory_gb_hour_usd=0.0,
        shuffle_gb_usd=0.0,
        vcpus_per_worker=4,
        memory_gb_per_worker=16,
        shuffle_factor=0,
    )
    e = estimate(docs_per_core_second=250.0, mean_doc_bytes=2000.0, prices=p)
    # 1e6 docs / (4 cores * 250 docs/s) = 1000 s = 0.2778 worker-hours at 0.20 USD/h
    assert e["worker_hours_per_million_docs"] == pytest.approx(0.278, abs=1e-3)
    assert e["usd_per_million_docs"] == pytest.approx(0.06, abs=0.01)
    # 1 TB = 5e8 documents of 2 kB = 500 million-document units
    assert e["worker_hours_per_tb"] == pytest.approx(138.9, abs=0.1)
    assert e["assumptions"]["vcpus_per_worker"] == 4


def test_shuffle_is_billed_per_gb():
    p = Prices(vcpu_hour_usd=0, memory_gb_hour_usd=0, shuffle_gb_usd=0.01, shuffle_factor=2.0)
    e = estimate(100.0, 1000.0, p)
    # 1e6 docs * 1 kB * 2 = 2 GB shuffled
    assert e["usd_per_million_docs"] == pytest.approx(0.02)


@pytest.mark.parametrize(("rate", "size"), [(0, 100), (10, 0), (-1, 5)])
def test_no_measurement_no_estimate(rate, size):
    assert estimate(rate, size)["available"] is False


def test_report_shows_the_estimate(tmp_path):
    from tests.conftest import run_cli

    out = tmp_path / "o"
    args = ("run", "--output", str(out), "--quiet", "--set", "pii.enabled=false")
    assert run_cli(*args).returncode == 0
    page = (out / "report.html").read_text()
    assert "Cost estimate (Dataflow)" in page and "USD per million documents" in page
