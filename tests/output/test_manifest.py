"""The typed manifest and the output layout, without a pipeline: real files in a temp folder."""

import hashlib
import json

import pytest
from pydantic import ValidationError

from thresher.errors import InputError, OutputError
from thresher.output import Manifest, fs, layout, manifest_sha256, read_manifest, write_manifest
from thresher.output.manifest import rewrite_manifest


def _minimal(**extra) -> dict:
    data = {
        "thresher_version": "0.1.0",
        "status": "succeeded",
        "failure": None,
        "recipe": {"output": {"path": "out"}},
        "recipe_hash": "h",
        "recipe_path": None,
        "runner": "FnApiRunner",
        "inputs": [{"path": "a.jsonl", "size_bytes": 10, "records": 2}],
        "counts": {"input": 2, "kept": 1, "dropped": 0, "duplicate": 1, "dead_letter": 0},
        "accounting": {"balanced": True},
        "dead_letter_fraction": 0.0,
        "stages": [
            {"stage": "read", "in": 2, "dropped": 0, "duplicate": 0, "dead_letter": 0, "out": 2}
        ],
        "outputs": {"data": [{"file": "data/part-00000-of-00001.parquet", "rows": 1, "bytes": 5}]},
        "timings": {
            "started_at": "t0",
            "finished_at": "t1",
            "pipeline_seconds": 1.0,
            "total_seconds": 1.5,
            "docs_per_second": 2.0,
        },
    }
    data.update(extra)
    return data


def test_saved_form_round_trips_byte_for_byte(tmp_path):
    m = Manifest.model_validate(_minimal(stats={"bytes.input": 12, "x": 0.5}))
    write_manifest(str(tmp_path), m)
    raw = (tmp_path / "manifest.json").read_bytes()
    again = read_manifest(str(tmp_path))
    assert again.to_bytes() == raw and again == m
    saved = json.loads(raw)
    assert saved["stages"][0]["in"] == 2  # the alias is what is saved
    assert saved["stats"]["bytes.input"] == 12  # integers stay integers


def test_absent_sections_are_left_out_not_null(tmp_path):
    saved = Manifest.model_validate(_minimal()).as_json()
    for section in ("bias", "pii", "decontamination", "audit", "erasures"):
        assert section not in saved
    assert saved["failure"] is None  # a field every run has stays, even when empty
    assert "error" not in saved["accounting"]


@pytest.mark.parametrize(
    "bad",
    [
        _minimal(unknown_section={}),
        _minimal(status="sort of"),
        {k: v for k, v in _minimal().items() if k != "counts"},
        _minimal(
            counts={
                "input": 2,
                "kept": 1,
                "dropped": 0,
                "duplicate": 1,
                "dead_letter": 0,
                "surprise": 1,
            }
        ),
    ],
)
def test_unknown_or_missing_keys_are_errors(bad):
    with pytest.raises(ValidationError):
        Manifest.model_validate(bad)


def test_a_folder_without_a_manifest_is_not_an_output(tmp_path):
    with pytest.raises(InputError, match="not a thresher output"):
        read_manifest(str(tmp_path))
    assert not layout.is_output(str(tmp_path))


def test_rewrite_names_the_manifest_it_replaces(tmp_path):
    out = str(tmp_path)
    write_manifest(out, Manifest.model_validate(_minimal()))
    first = manifest_sha256(out)
    rewrite_manifest(out, audit={"seed": 0})
    second = manifest_sha256(out)
    m = rewrite_manifest(out, audit={"seed": 1})
    assert m.previous_manifest_hashes == [first, second]
    assert read_manifest(out).audit == {"seed": 1}
    assert (
        first
        == hashlib.sha256(fs.json_bytes(Manifest.model_validate(_minimal()).as_json())).hexdigest()
    )


def test_prepare_refuses_files_and_strangers_and_keeps_what_survives(tmp_path):
    afile = tmp_path / "f"
    afile.write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        layout.prepare(str(afile), overwrite=True)
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not a thresher output"):
        layout.prepare(str(stranger), overwrite=True)
    assert (stranger / "notes.txt").read_text() == "mine"
    out = tmp_path / "out"
    write_manifest(str(out), Manifest.model_validate(_minimal()))
    (out / "data").mkdir()
    (out / "data" / "part-00000-of-00001.parquet").write_bytes(b"x")
    (out / "privacy_ledger.json").write_text("[]")
    (out / "erasure").mkdir()
    (out / "erasure" / "r.json").write_text("{}")
    with pytest.raises(OutputError, match="not empty"):
        layout.prepare(str(out), overwrite=False)
    layout.prepare(str(out), overwrite=True, keep=(layout.LEDGER, layout.ERASURES))
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert left == ["erasure", "erasure/r.json", "privacy_ledger.json"]
