"""Data loading, unit split, privacy ledger and settings of ``thresher finetune``: no torch."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from tests.finetune.finetune_fixtures import make_output
from thresher.config import FinetuneConfig
from thresher.errors import ConfigError, InputError, OutputError
from thresher.finetune import ledger
from thresher.finetune._deps import MissingExtraError, require
from thresher.finetune.data import load_corpus, manifest_sha256, split_units


@pytest.fixture
def out(tmp_path):
    return make_output(tmp_path / "out")


def test_record_units_are_record_ids(out):
    corpus = load_corpus(out)
    assert corpus.unit == "record"
    assert [r.unit for r in corpus.rows] == [r.id for r in corpus.rows]
    assert len(corpus.rows) == 120


def test_user_units_come_from_the_named_meta_field(out):
    corpus = load_corpus(out, unit_field="author", label_field="label")
    assert corpus.unit == "user"
    assert {r.unit for r in corpus.rows} == {f"user{i}" for i in range(12)}
    assert {r.label for r in corpus.rows} == {"pos", "neg"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"unit_field": "customer"}, "120 record(s) have no meta field 'customer'"),
        ({"label_field": "stars"}, "120 record(s) have no meta field 'stars'"),
    ],
)
def test_missing_fields_are_errors_that_name_the_field(out, kwargs, message):
    with pytest.raises(InputError, match=re.escape(message)):
        load_corpus(out, **kwargs)


def test_not_an_output_directory(tmp_path):
    with pytest.raises(InputError, match=r"no manifest\.json"):
        load_corpus(tmp_path)


def test_manifest_hash_is_sha256_of_the_file(out):
    assert manifest_sha256(out) == hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()


def test_split_keeps_units_whole_stable_and_nonempty():
    units = [f"u{i % 40}" for i in range(400)]
    train, held = split_units(units, 0.2)
    assert set(train).isdisjoint(held)
    assert set(train) | set(held) == set(units)
    assert 1 <= len(held) < 40
    assert split_units(list(reversed(units)), 0.2) == (train, held)
    assert split_units(["a", "b"], 0.01)[1] and split_units(["a", "b"], 0.99)[0]
    with pytest.raises(InputError, match="at least 2"):
        split_units(["only"] * 5, 0.1)


def _entry(run_id, **kw):
    base = {
        "run_id": run_id,
        "status": "running",
        "epsilon": 0.0,
        "delta": 1e-5,
        "unit": "record",
        "steps": 0,
        "dataset_manifest_sha256": "m1",
    }
    return {**base, **kw}


def test_ledger_appends_updates_upward_and_freezes_completed(tmp_path):
    ledger.record(tmp_path, _entry("a"))
    ledger.record(tmp_path, _entry("a", steps=10, epsilon=2.0))
    ledger.record(tmp_path, _entry("a", steps=5, epsilon=1.0))  # never goes down
    ledger.record(tmp_path, _entry("b", epsilon=3.0, dataset_manifest_sha256="m2"))
    entries = ledger.read_ledger(tmp_path)
    assert [e["run_id"] for e in entries] == ["a", "b"]
    assert (entries[0]["steps"], entries[0]["epsilon"]) == (10, 2.0)
    ledger.record(tmp_path, _entry("a", status="completed", steps=10, epsilon=2.0))
    with pytest.raises(OutputError, match="already completed"):
        ledger.record(tmp_path, _entry("a", steps=20, epsilon=4.0))
    on_disk = json.loads((tmp_path / "privacy_ledger.json").read_text())
    assert isinstance(on_disk, list) and len(on_disk) == 2
    assert not list(tmp_path.glob(".privacy_ledger.*.tmp"))
    assert ledger.cumulative(on_disk, ["m1"]) == {
        "runs": 1,
        "epsilon": 2.0,
        "delta": 1e-5,
        "units": ["record"],
    }
    # a dataset whose manifest was rewritten (audit, forget, --overwrite) is named by all of
    # its manifests' hashes: every earlier run still counts
    assert ledger.cumulative(on_disk, ["m3", "m1", "m2"])["epsilon"] == 5.0


def test_corrupt_ledger_is_an_error_not_an_empty_history(tmp_path):
    (tmp_path / "privacy_ledger.json").write_text("[{", encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        ledger.read_ledger(tmp_path)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"epsilon": 3.0, "noise_multiplier": 1.0}, "mutually exclusive"),
        ({"epsilon": None}, "set one of"),
        ({"task": "classification"}, "needs finetune.label_field"),
        ({"accountant": "gdp"}, "accountant"),
        ({"epsilon": 0}, "epsilon"),
    ],
)
def test_invalid_settings(settings, message):
    with pytest.raises(ValueError, match=message):
        FinetuneConfig.model_validate(settings)


def test_missing_extra_names_the_install_command():
    with pytest.raises(MissingExtraError, match=r"pip install 'thresher\[dp\]'"):
        require("thresher_no_such_package")
    assert issubclass(MissingExtraError, ConfigError)
