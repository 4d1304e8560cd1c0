"""Nothing about the curator's machine in what gets published: ``data/``'s ``source`` column,
the dataset card (``README.md``) and ``report.html`` name input files relative to the input
root and never hold the output's absolute parent path; lineage keeps the absolute path for
``explain``; ``output.absolute_sources: true`` brings the old behaviour back."""

from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import pytest
import yaml

from tests.conftest import REPO, load_manifest, read_parquet_dir, run_cli

SAMPLE = REPO / "sample_data" / "wiki" / "articles.parquet"
NAME = "batch1/articles.parquet"


def _run(tmp_path, *, absolute_sources: bool | None = None):
    home = tmp_path / "home" / "ann"
    corpus = home / "corpus" / "batch1"
    corpus.mkdir(parents=True)
    shutil.copyfile(SAMPLE, corpus / "articles.parquet")
    out = home / "out"
    recipe = {
        "input": {"paths": [str(home / "corpus") + "/"]},
        "output": {"path": str(out)},
        "bias": {"enabled": False},
    }
    if absolute_sources is not None:
        recipe["output"]["absolute_sources"] = absolute_sources
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    proc = run_cli("run", str(path), "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return home, corpus, out


def _all_strings(path) -> str:
    """Every value of every Parquet shard under ``path``, as text (the files are compressed,
    so their bytes alone would not show a path)."""
    return "\n".join(
        json.dumps(pq.read_table(f).to_pylist(), default=str)
        for f in sorted(path.glob("*.parquet"))
    )


@pytest.fixture(scope="module")
def relative_run(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("published"))


def test_published_files_hold_no_absolute_parent_path(relative_run):
    home, _, out = relative_run
    parent = str(out.parent)
    assert parent == str(home)
    published = {
        "data/": _all_strings(out / "data"),
        "README.md": (out / "README.md").read_text(encoding="utf-8"),
        "report.html": (out / "report.html").read_text(encoding="utf-8"),
    }
    assert [name for name, text in published.items() if parent in text] == []
    rows = read_parquet_dir(out / "data")
    assert rows and {r["source"] for r in rows} == {NAME}
    assert f"`{NAME}`" in published["README.md"]


def test_lineage_and_manifest_keep_the_absolute_path(relative_run):
    _, corpus, out = relative_run
    absolute = str(corpus / "articles.parquet")
    assert {r["source"] for r in read_parquet_dir(out / "lineage")} == {absolute}
    [entry] = load_manifest(out)["inputs"]
    assert entry["path"] == absolute and entry["source"] == NAME


def test_absolute_sources_switch_restores_absolute_paths(tmp_path):
    _, corpus, out = _run(tmp_path, absolute_sources=True)
    absolute = str(corpus / "articles.parquet")
    assert {r["source"] for r in read_parquet_dir(out / "data")} == {absolute}
    assert f"`{absolute}`" in (out / "README.md").read_text(encoding="utf-8")
