"""End to end: the real ``thresher`` CLI on a small corpus written to tmp_path, filters and
bias stages on, Parquet read back; ``thresher explain`` shows a drop's reason and values."""

from __future__ import annotations

import json

import pytest

from tests.conftest import load_manifest, read_parquet_dir, run_cli

PROSE = [
    "The committee reviewed the proposal and found that it had merit, although several "
    "members raised concerns about the cost of the new bridge.",
    "After a long discussion, they agreed to revisit the question next month with better "
    "data and a clearer plan for the works.",
    "The chair thanked everyone for their time and asked the staff to prepare a summary of "
    "the options before the next meeting.",
    "Residents who live near the river said that they would welcome any plan that reduces "
    "the risk of flooding in the spring.",
    "Several local firms have offered to help with the survey, and the council expects to "
    "publish the results early next year.",
]
GERMAN = (
    "Der Ausschuss prüfte den Vorschlag und fand, dass er Vorzüge hatte, obwohl mehrere "
    "Mitglieder Bedenken wegen der Kosten der neuen Brücke äußerten. Nach einer langen "
    "Diskussion vereinbarten sie, die Frage im nächsten Monat mit besseren Daten und einem "
    "klareren Plan erneut zu prüfen, und der Rat will die Ergebnisse veröffentlichen."
)
RECORDS = {
    "good": "\n".join([*PROSE, "Many women and older adults came to speak at the meeting."]),
    "menu": "\n".join([*PROSE, "Home", "Shop", "Blog"]),
    "short": "Click here to read the full story",
    "lorem": "\n".join([*PROSE, "Lorem ipsum dolor sit amet, consectetur adipiscing elit."]),
    "list": "\n".join(f"- item number {i} of the list" for i in range(60)),
    "german": GERMAN,
    "toxic": "\n".join(
        [*PROSE, "Those immigrants are worthless scum, and so is the fucking mayor."]
    ),
}
EXPECTED_DROPS = {
    "short": ("filter_quality", "gopher_top_2_gram"),
    "lorem": ("filter_quality", "c4_lorem_ipsum"),
    # Language runs first (FineWeb's order): a bare list gives lingua too little to go on, and
    # German leaves for its language, not for lacking English stop words.
    "list": ("filter_language", "language_low_confidence"),
    "german": ("filter_language", "language_not_allowed"),
    "toxic": ("flag_bias", "toxic_content"),
}


def signals_of(row: dict) -> dict[str, float]:
    """The ``signals`` column as a dict, whether Parquet holds it as a map or as a list of
    name/value structs."""
    items = row["signals"] or []
    if items and isinstance(items[0], dict):
        return {s["name"]: s["value"] for s in items}
    return dict(items)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("filters_cli")
    src = root / "in"
    src.mkdir()
    with open(src / "docs.jsonl", "w", encoding="utf-8") as fh:
        for rid, text in RECORDS.items():
            fh.write(json.dumps({"id": rid, "text": text}) + "\n")
    return root


@pytest.fixture(scope="module")
def dropped_run(corpus):
    out = corpus / "out_drop"
    res = run_cli(
        "run",
        "pipelines/default.yaml",
        "--input",
        str(corpus / "in"),
        "--output",
        str(out),
        "--quiet",
        "--set",
        "dedup.near.enabled=false",  # the fixture documents share a template on purpose
        "--set",
        "bias.toxicity.drop=true",
        "--set",
        "bias.disparity.min_group_size=1",
        "--set",
        "bias.disparity.confidence=0",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return out


def test_cli_drops_with_reasons_and_values(dropped_run):
    lineage = {r["id"]: r for r in read_parquet_dir(dropped_run / "lineage")}
    assert set(lineage) == set(RECORDS)
    drops = {i: (r["stage"], r["reason"]) for i, r in lineage.items() if r["fate"] == "dropped"}
    assert drops == EXPECTED_DROPS
    details = json.loads(lineage["short"]["details"])
    assert details["rule_set"] == "gopher_repetition"
    assert details["threshold"] == 0.2 and details["value"] == pytest.approx(10 / 33)
    assert details["signals"]["gopher_top_2_gram_char_frac"] == pytest.approx(10 / 33)
    toxic = json.loads(lineage["toxic"]["details"])
    assert toxic["signals"]["toxicity_terms"] == 3 and toxic["toxicity_threshold"] == 0.01


def test_cli_kept_records_carry_signals_and_language(dropped_run):
    data = {r["id"]: r for r in read_parquet_dir(dropped_run / "data")}
    assert set(data) == {"good", "menu"}
    good = data["good"]
    signals = signals_of(good)
    assert good["language"] == "en" and good["language_score"] > 0.9
    assert signals["identity_gender"] == 1 and signals["identity_age"] == 1
    assert signals["gopher_stop_words"] >= 2 and signals["toxicity_flag"] == 0
    menu = data["menu"]
    assert menu["text"] == "\n".join(PROSE)
    assert menu["modifications"] == ["c4_remove_lines"]


def test_cli_manifest_bias_section(dropped_run):
    m = load_manifest(dropped_run)
    assert m["accounting"]["balanced"]
    assert m["counts"]["dropped_by_reason"] == {
        "c4_lorem_ipsum": 1,
        "gopher_top_2_gram": 1,
        "language_low_confidence": 1,
        "language_not_allowed": 1,
        "toxic_content": 1,
    }
    b = m["bias"]
    lq = b["disparity"]["filters"]["low_quality"]
    # language runs first and removes two of the seven; the quality rules see five
    assert (lq["records"], lq["removed"], lq["action"]) == (5, 2, "drop")
    # "toxic" mentions immigrants and was removed by the toxicity rule: 1 of 1 vs 1 of 3.
    tox = b["disparity"]["filters"]["toxicity"]
    assert tox["groups"]["ethnicity_nationality"]["ratio"] == 3.0
    assert {
        "filter": "toxicity",
        "group": "ethnicity_nationality",
        "ratio": 3.0,
        "records": 1,
    } in b["disparity"]["flagged"]
    assert b["representation"]["records"] == 2
    assert b["representation"]["groups"]["gender"] == {"records": 1, "share": 0.5}
    assert b["lexicons"] == {"toxicity-en-v1.tsv": "1", "identity-en-v1.tsv": "1"}


def test_cli_explain_shows_reason_and_values(dropped_run):
    res = run_cli("explain", str(dropped_run), "short")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert "reason 'gopher_top_2_gram'" in lines[2]
    # issue 18: the rule, its value and its threshold lead; the other signals follow
    value = next(r for r in read_parquet_dir(dropped_run / "lineage") if r["id"] == "short")
    details = json.loads(value["details"])
    assert lines[3] == (
        f"rule       gopher_top_2_gram: value {details['value']:.4g}, above the threshold 0.2 "
        "(rule set gopher_repetition)"
    )
    assert lines[4].startswith("signals    ") and "{" not in res.stdout
    assert "Click" not in res.stdout  # numbers only, never the text
    toxic = run_cli("explain", str(dropped_run), "toxic").stdout.splitlines()
    assert toxic[3].startswith("rule       toxic_content: toxicity_score ")
    assert "(threshold " in toxic[3] and toxic[4].startswith("signals    ")


def test_cli_annotate_mode_keeps_everything(corpus):
    out = corpus / "out_annotate"
    res = run_cli(
        "run",
        "pipelines/default.yaml",
        "--input",
        str(corpus / "in"),
        "--output",
        str(out),
        "--quiet",
        "--set",
        "filters.mode=annotate",
        "--set",
        "dedup.near.enabled=false",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    data = {r["id"]: r for r in read_parquet_dir(out / "data")}
    assert set(data) == set(RECORDS)
    assert data["menu"]["text"] == RECORDS["menu"]  # annotate never rewrites
    passes = {i: signals_of(r)["gopher_quality_pass"] for i, r in data.items()}
    assert passes["german"] == 0.0 and passes["good"] == 1.0
    assert signals_of(data["german"])["language_pass"] == 0.0
    assert data["german"]["language"] == "de"
    m = load_manifest(out)
    assert m["counts"]["kept"] == len(RECORDS) and m["counts"]["dropped"] == 0
    gq = m["bias"]["disparity"]["filters"]["gopher_quality"]
    assert gq["action"] == "annotate" and gq["records"] == len(RECORDS)
