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


def _row_after(page: str, start: str) -> str:
    i = page.index(start)
    return page[i : page.index("</tr>", i)]


def test_disparity_prose_agrees_with_the_table(run_dir):
    """Issue 18: "No filter removes a group disproportionately" stood above a row with ratio
    60.17 (a 1-record group). Rows under the minimum group size read "too few"; the prose
    states that minimum."""
    page = (run_dir / "report.html").read_text()
    disp = load_manifest(run_dir)["bias"]["disparity"]
    min_size = disp["min_group_size"]
    small = [
        (name, f["action"], g, v)
        for name, f in sorted(disp["filters"].items())
        for g, v in sorted(f["groups"].items())
        if v["records"] < min_size
    ]
    assert small, "sample_data has a one-record group (language/gender)"
    for name, action, group, v in small:
        row = _row_after(
            page, f'<td class="">{name}</td><td class="">{action}</td><td class="">{group}</td>'
        )
        assert '<td class="">too few</td>' in row
        if v["ratio"] is not None:
            assert f"{v['ratio']:.2f}" not in row
    section = page[page.index("<h2>Filter disparity</h2>") :]
    section = section[: section.index("</section>")]
    assert f"{len(small)} row(s) cover fewer than {min_size} records and are not judged" in section
    if not disp["flagged"]:
        assert f"No filter removes a group of at least {min_size} records disproportionately" in (
            section
        )
    # every judged row says why it is not flagged, in words the prose uses
    assert "within bound" in section


_FATE = {
    "input": "#8c959f",
    "kept": "#1a7f37",
    "dropped": "#bf8700",
    "duplicate": "#0969da",
    "dead letter": "#cf222e",
}


def _svgs(page: str) -> dict[str, str]:
    return dict(re.findall(r'<svg role="img" aria-label="([^"]*)"(.*?)</svg>', page, re.S))


def test_one_colour_per_meaning_in_every_chart(run_dir):
    page = (run_dir / "report.html").read_text()
    svgs = _svgs(page)
    # histograms: legend and bars of a series take the series' colour
    series_colours: dict[str, set[str]] = {}
    for svg in svgs.values():
        for colour, name in re.findall(
            r'fill="(#[0-9a-f]{6})"/><text x="[\d.]+" y="29">([^<]*)</text>', svg
        ):
            series_colours.setdefault(name, set()).add(colour)
        for colour, name in re.findall(r'fill="(#[0-9a-f]{6})"><title>(\S+) ', svg):
            series_colours.setdefault(name, set()).add(colour)
    assert series_colours["kept"] == {_FATE["kept"]}
    assert series_colours["input"] == {_FATE["input"]}
    assert series_colours["dropped"] == {_FATE["dropped"]}
    for name, colours in series_colours.items():
        if name not in _FATE:  # e.g. duplicate clusters by stage: never grey, never "kept"
            assert not colours & {_FATE["input"], _FATE["kept"]}, name
    # a single-series histogram of kept records (signals only kept records carry) is green
    assert any(re.findall(r'y="29">([^<]*)</text>', svg) == ["kept"] for svg in svgs.values())
    # bar charts: funnel bars by fate; kept languages green; measures in no fate's colour
    funnel = svgs["records by where they left"]
    for label, colour in re.findall(
        r'text-anchor="end">([^<]*)</text><rect [^>]*fill="(#[0-9a-f]{6})"', funnel
    ):
        fate = label.split(": ")[-1]
        assert colour == _FATE[fate], label
    assert set(re.findall(r'fill="(#[0-9a-f]{6})"', svgs["languages of kept records"])) == {
        _FATE["kept"]
    }
    for title in ("seconds per stage", "findings by entity type"):
        assert not set(re.findall(r'fill="(#[0-9a-f]{6})"', svgs[title])) & set(_FATE.values()), (
            title
        )
    # grey marks the input and nothing else
    for svg in svgs.values():
        for label, colour in re.findall(
            r'text-anchor="end">([^<]*)</text><rect [^>]*fill="(#[0-9a-f]{6})"', svg
        ):
            assert (colour == _FATE["input"]) == (label == "input"), label
