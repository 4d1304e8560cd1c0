"""report.html and the dataset card: content from the manifest, and a real browser opening the
report with networking disabled (no console errors, no requests, a screenshot kept)."""

import json
import os
import re
import shutil

import pytest
import yaml

from tests.conftest import REPO, load_manifest, run_cli

ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "out"
    proc = run_cli("run", "--output", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def test_report_shows_the_manifest_numbers_and_no_text(run_dir):
    page = (run_dir / "report.html").read_text()
    m = load_manifest(run_dir)
    c = m["counts"]
    for key in ("input", "kept", "duplicate", "dead_letter"):
        assert f"{c[key]:,}" in page
    for reason in c["dead_letter_by_reason"]:
        assert reason in page
    for ids in m["examples"].values():
        assert ids[0] in page
    assert "balanced" in page and "Funnel" in page and "text length" in page
    # PII counts by entity type and operator, the key's public id (never the key)
    for entity, n in m["pii"]["entities"].items():
        assert f'<td class="">{entity}</td><td class="n">{n:,}</td>' in page
    assert m["pii"]["key"]["id"] in page and "placeholder" in page
    # bias representation and the filter-disparity table
    assert "Filter disparity" in page and "identity group" in page
    assert "Cost estimate" in page
    # self-contained: no scripts, no external references
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    # never document text: no 8-word run of any kept record appears in the page
    from tests.conftest import read_parquet_dir

    for row in read_parquet_dir(run_dir / "data")[:200]:
        words = row["text"].split()
        if len(words) >= 8:
            assert " ".join(words[:8]) not in page


def test_report_rerenders_from_the_manifest(run_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "report.html").unlink()
    (copy / "README.md").unlink()
    proc = run_cli("report", str(copy))
    assert proc.returncode == 0, proc.stderr
    assert (copy / "report.html").read_text() == (run_dir / "report.html").read_text()
    assert (copy / "README.md").read_text() == (run_dir / "README.md").read_text()


def test_dataset_card_header_and_counts(run_dir):
    card = (run_dir / "README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    assert header["configs"][0]["data_files"][0]["path"] == "data/*.parquet"
    m = load_manifest(run_dir)
    assert f"| {m['counts']['input']:,} | {m['counts']['kept']:,} |" in card
    assert "PII anonymization was not part of this run" in card or "## Privacy" in card


def test_dataset_card_loads_with_datasets(run_dir, tmp_path):
    datasets = pytest.importorskip("datasets")
    # datasets caches by folder name: a private cache keeps another run's "out" from answering
    ds = datasets.load_dataset(str(run_dir), split="train", cache_dir=str(tmp_path / "cache"))
    assert ds.num_rows == load_manifest(run_dir)["counts"]["kept"]


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def test_report_in_a_real_browser_without_network(run_dir):
    found = _chromium()
    if found is None:
        pytest.skip(
            "Chromium is not installed (apt-get install chromium chromium-driver); "
            ".ci/run installs it so CI always runs this test"
        )
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = found
    opts = Options()
    opts.binary_location = browser
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,2400",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--disable-background-networking",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download a driver
    drv = webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)
    try:
        drv.get((run_dir / "report.html").as_uri())
        assert "thresher run report" in drv.title
        errors = [e for e in drv.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        assert errors == []
        requests = []
        for entry in drv.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg["method"] == "Network.requestWillBeSent":
                requests.append(msg["params"]["request"]["url"])
        assert all(u.startswith(("file://", "data:")) for u in requests), requests
        assert len(drv.find_elements("css selector", "svg")) >= 3
        ARTIFACTS.mkdir(exist_ok=True)
        assert drv.save_screenshot(str(ARTIFACTS / "report.png"))
    finally:
        drv.quit()
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
