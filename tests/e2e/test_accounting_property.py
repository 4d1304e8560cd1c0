"""Hypothesis: for any mix of good and bad lines, every record lands in exactly one place."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import read_parquet_dir
from thresher.config import load_config
from thresher.core.hashing import content_key
from thresher.core.normalize import normalize_text
from thresher.run import execute

GOOD = st.builds(lambda t: json.dumps({"text": t}).encode(), st.text(min_size=1, max_size=40))
DUPLICATE = st.just(json.dumps({"text": "the same text every time"}).encode())
BAD = st.sampled_from(
    [
        b"{not json",
        b'{"text": null}',
        b'{"text": 5}',
        b'{"body": "x"}',
        b'{"text": "\xff\xfe"}',
        b"[1]",
        b'{"text": "   "}',
    ]
)
LINES = st.lists(st.one_of(GOOD, DUPLICATE, BAD), min_size=0, max_size=30)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(LINES)
def test_accounting_balances_for_any_mix(tmp_path_factory, lines):
    d = tmp_path_factory.mktemp("acct")
    (d / "in.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    cfg = load_config(
        None,
        [
            f"input.paths=[{d / 'in.jsonl'}]",
            f"output.path={d / 'out'}",
            "limits.max_dead_letter_fraction=1.0",
            # the reference model below covers the spine: read, normalize, exact dedup
            "filters.enabled=false",
            "bias.enabled=false",
            "dedup.near.enabled=false",
        ],
    )
    outcome = execute(cfg)
    c = outcome.manifest.counts.model_dump()
    records = [ln for ln in lines if ln.strip()]
    assert c["input"] == len(records)
    assert c["kept"] + c["dropped"] + c["duplicate"] + c["dead_letter"] == len(records)
    lineage = read_parquet_dir(d / "out" / "lineage")
    assert sorted(r["position"] for r in lineage) == [i for i, ln in enumerate(lines) if ln.strip()]
    assert c["kept"] == len(read_parquet_dir(d / "out" / "data"))
    # A reference model of the spine, record by record, predicts every count.
    texts = []
    for ln in records:
        try:
            obj = json.loads(ln.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(obj, dict) and isinstance(obj.get("text"), str) and obj["text"].strip():
            texts.append(normalize_text(obj["text"]))
    survivors = [t for t in texts if t]
    distinct = {content_key(t) for t in survivors}
    assert c["dead_letter"] == len(records) - len(texts)
    assert c["dropped"] == len(texts) - len(survivors)
    assert c["kept"] == len(distinct)
    assert c["duplicate"] == len(survivors) - len(distinct)
