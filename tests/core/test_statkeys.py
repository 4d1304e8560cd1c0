"""Profile statistic keys: built and parsed in one place (table-driven, with negatives)."""

import pytest

from thresher.core import statkeys
from thresher.core.statkeys import StatKey


@pytest.mark.parametrize(
    ("key", "parsed"),
    [
        (statkeys.chars("input", "000000128"), StatKey("chars", "input", "000000128")),
        (statkeys.signal("c4_ratio", "kept", "0.3"), StatKey("signal", "c4_ratio", "0.3", "kept")),
        # a signal name with dots, a bucket with a dot: the phase still splits them
        (statkeys.signal("a.b", "dropped", "0.9"), StatKey("signal", "a.b", "0.9", "dropped")),
        (statkeys.signal("n", "kept", "2^05"), StatKey("signal", "n", "2^05", "kept")),
        (
            statkeys.cluster_size("near_dedup", "000004"),
            StatKey("cluster_size", "near_dedup", "000004"),
        ),
        (statkeys.language("en"), StatKey("language", "en")),
        (statkeys.text_bytes("input"), StatKey("bytes", "input")),
    ],
)
def test_every_built_key_parses_back(key, parsed):
    assert statkeys.parse(key) == parsed


@pytest.mark.parametrize(
    "key",
    [
        "pii.entity.EMAIL_ADDRESS",
        "bias.filter.c4.records",
        "hist.chars.input",
        "hist.signal.x.0.3",
        "cluster_size.near_dedup",
        "hist.signal..kept.0.1",
    ],
)
def test_keys_of_other_owners_and_malformed_keys_are_not_profile_keys(key):
    assert statkeys.parse(key) is None


def test_series_group_by_family():
    stats = {
        statkeys.chars("input", "1"): 3,
        statkeys.chars("kept", "1"): 2,
        statkeys.signal("s", "kept", "0.1"): 1,
        statkeys.signal("s", "dropped", "0.1"): 4,
        statkeys.language("de"): 5,
        "pii.documents": 9,
    }
    assert statkeys.series(stats, "chars") == {"input": {"1": 3}, "kept": {"1": 2}}
    assert statkeys.signal_series(stats) == {"s": {"kept": {"0.1": 1}, "dropped": {"0.1": 4}}}
    assert statkeys.totals(stats, "language") == {"de": 5}
