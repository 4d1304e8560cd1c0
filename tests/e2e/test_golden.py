"""``make run``'s recipe gives the same data, lineage, dead letters, index and manifest as the
golden outputs recorded before the output-layer refactor (see ``tests/e2e/golden.py``)."""

import json

import pytest

from tests.e2e.golden import canonical, load


def _explain(expected: dict, actual: dict) -> str:
    lines = []
    for key in sorted(set(expected) | set(actual)):
        if expected.get(key) != actual.get(key):
            lines.append(f"{key}: expected {json.dumps(expected.get(key))[:300]}")
            lines.append(f"{' ' * len(key)}  actual   {json.dumps(actual.get(key))[:300]}")
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("fixture", "golden"), [("sample_run", "one_worker"), ("two_worker_run", "two_workers")]
)
def test_outputs_equal_the_golden_run(request, fixture, golden):
    run = request.getfixturevalue(fixture)
    out = run[0] if isinstance(run, tuple) else run
    expected, actual = load(golden), canonical(out)
    for kind in ("data", "lineage", "dead_letter", "index"):
        assert actual[kind] == expected[kind], f"{kind}/ differs from the golden {golden} run"
    assert actual["manifest"] == expected["manifest"], _explain(
        expected["manifest"], actual["manifest"]
    )


def test_canonical_form_notices_a_changed_row(sample_run, tmp_path):
    """The comparison is not vacuous: one changed lineage row changes the digest."""
    import shutil

    import pyarrow.parquet as pq

    out = tmp_path / "copy"
    shutil.copytree(sample_run[0], out)
    shard = sorted((out / "lineage").glob("*.parquet"))[0]
    rows = pq.read_table(shard).to_pylist()
    rows[0]["reason"] = "changed"
    schema = pq.read_schema(shard)
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist(rows, schema=schema), shard)
    assert canonical(out)["lineage"] != load("one_worker")["lineage"]
