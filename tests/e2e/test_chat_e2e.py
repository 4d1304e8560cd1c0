"""Conversations and instruction pairs end to end (tier c): the sample chat files through
``make run``'s recipe, and each trainer layout from raw to ``thresher export``."""

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, load_manifest, read_parquet_dir, run_cli

PLANTED = json.loads((REPO / "sample_data" / "_planted.json").read_text())
CHAT = PLANTED["chat"]
# chat/openai.jsonl alone is one sixth bad records (one per validation reason)
BAD_RECORDS_PLANTED = "limits.max_dead_letter_fraction=0.25"
SHAREGPT_KEYS = [
    "input.record=chat",
    "input.chat.messages_field=conversations",
    "input.chat.role_key=from",
    "input.chat.content_key=value",
    "input.chat.roles={human: user, gpt: assistant}",
]


def _by_id(rows: list[dict]) -> dict[str, dict]:
    return {r["id"]: r for r in rows}


def _published(source: str) -> str:
    return "/".join(Path(source).parts[-2:])


def test_chat_records_are_read_as_conversations(sample_run):
    out, _ = sample_run
    data = read_parquet_dir(out / "data")
    chats = [r for r in data if r["messages"] is not None]
    sources = {_published(r["source"]) for r in chats}
    assert sources == {"chat/openai.jsonl", "chat/sharegpt.json", "chat/alpaca.json"}
    for r in chats:
        roles = [t["role"] for t in r["messages"]]
        assert set(roles) <= {"system", "user", "assistant"} and "assistant" in roles
        assert r["text"] == "\n\n".join(t["content"] for t in r["messages"])
    alpaca = [r for r in chats if r["source"].endswith("alpaca.json")]
    assert alpaca and all(
        [t["role"] for t in r["messages"]] == ["user", "assistant"] for r in alpaca
    )
    documents = [r for r in data if r["messages"] is None]
    assert documents and all(r["text"] for r in documents)


def test_planted_chat_cases(sample_run):
    out, _ = sample_run
    lineage = _by_id(read_parquet_dir(out / "lineage"))
    a, b = CHAT["exact_duplicates"][0]
    assert lineage[a]["fate"] == "kept"
    assert (lineage[b]["fate"], lineage[b]["reason"], lineage[b]["duplicate_of"]) == (
        "duplicate",
        "exact_duplicate",
        a,
    )
    assert all(lineage[i]["fate"] == "kept" for i in CHAT["same_prompt"])
    for rid, reason in CHAT["dropped"].items():
        assert (lineage[rid]["fate"], lineage[rid]["reason"]) == ("dropped", reason), rid
    # a drop decided by one turn names it, and never quotes it
    refusal = json.loads(lineage["chat-refusal"]["details"])
    assert refusal["turn"] == 1 and refusal["role"] == "assistant"


def test_planted_chat_bad_records_are_dead_lettered_with_distinct_reasons(sample_run):
    out, _ = sample_run
    dead = {
        (_published(d["source"]), d["position"]): d for d in read_parquet_dir(out / "dead_letter")
    }
    reasons = {}
    for bad in CHAT["bad_records"]:
        d = dead[(bad["file"], bad["position"])]
        assert (d["stage"], d["error_type"]) == ("read", bad["error_type"]), bad
        reasons[bad["case"]] = d["error_type"]
        assert "Once upon" not in d["message"] and "Is this fine" not in d["message"]
    openai_cases = [b["case"] for b in CHAT["bad_records"] if b["file"] == "chat/openai.jsonl"]
    assert len({reasons[c] for c in openai_cases}) == len(openai_cases), reasons


def test_pii_is_replaced_in_every_turn(sample_run):
    out, _ = sample_run
    row = _by_id(read_parquet_dir(out / "data"))[CHAT["pii_across_turns"]["id"]]
    values = CHAT["pii_across_turns"]["values"].values()
    for turn in row["messages"]:
        assert not any(v in turn["content"] for v in values)
        assert "Dana" not in turn["content"]
    fields = {f["field"] for f in row["pii"]}
    assert {"messages.0", "messages.1"} <= fields
    for f in row["pii"]:
        turn = row["messages"][int(f["field"].split(".")[1])]["content"]
        assert 0 <= f["start"] < f["end"] <= len(turn)


def test_the_prompt_key_keeps_one_answer_per_prompt(tmp_path, checkout):
    out = tmp_path / "out"
    proc = run_cli(
        "run",
        "pipelines/default.yaml",
        "--input",
        "sample_data/chat/openai.jsonl",
        "--output",
        str(out),
        "--quiet",
        "--set",
        "input.record=chat",
        "--set",
        "dedup.exact.key=prompt",
        "--set",
        "pii.enabled=false",
        "--set",
        BAD_RECORDS_PLANTED,
        cwd=checkout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lineage = _by_id(read_parquet_dir(out / "lineage"))
    first, *rest = CHAT["same_prompt"]
    assert lineage[first]["fate"] == "kept"
    assert [(lineage[i]["reason"], lineage[i]["duplicate_of"]) for i in rest] == [
        ("same_prompt", first)
    ] * len(rest)


LAYOUTS = [
    ("chat/openai.jsonl", ["input.record=chat"], "openai", "messages"),
    ("chat/sharegpt.json", SHAREGPT_KEYS, "sharegpt", "conversations"),
    ("chat/alpaca.json", ["input.record=instruction"], "alpaca", "instruction"),
]


@pytest.mark.parametrize(("path", "keys", "fmt", "field"), LAYOUTS, ids=[x[2] for x in LAYOUTS])
def test_raw_to_export(tmp_path, checkout, path, keys, fmt, field):
    """Each trainer layout from raw to ``thresher export``: the books balance, every kept
    record is exported, and none of the planted PII values reaches the export."""
    out = tmp_path / "out"
    sets = [a for k in keys for a in ("--set", k)]
    proc = run_cli(
        "run",
        "pipelines/default.yaml",
        "--input",
        f"sample_data/{path}",
        "--output",
        str(out),
        "--quiet",
        *sets,
        "--set",
        BAD_RECORDS_PLANTED,
        cwd=checkout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = load_manifest(out)
    c = m["counts"]
    assert m["accounting"]["balanced"] and c["input"] == CHAT["records"][path]
    exported = tmp_path / f"export.{fmt}.jsonl"
    proc = run_cli("export", str(out), "--format", fmt, "--output", str(exported))
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(x) for x in exported.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == c["kept"] > 0
    assert all(field in x for x in lines)
    raw = exported.read_text(encoding="utf-8")
    assert not any(v in raw for v in CHAT["pii_across_turns"]["values"].values())


def test_explain_names_the_turn_and_never_quotes_it(sample_run):
    out, _ = sample_run
    proc = run_cli("explain", str(out), "chat-long")
    assert proc.returncode == 0, proc.stderr
    assert "too_many_turns: value 68, above the threshold 64 (rule set chat) at turn 64" in (
        proc.stdout
    )
    proc = run_cli("explain", str(out), "chat-refusal")
    assert "reason 'refusal'" in proc.stdout and "turn 1" in proc.stdout
    assert "sorry" not in proc.stdout.lower()


def test_datasets_loads_the_messages_column_as_trl_reads_it(sample_run, tmp_path):
    """``datasets.load_dataset(DIR)`` through the card: ``messages`` is a list of
    ``{role, content}`` dicts (TRL's conversational format), None for documents."""
    import datasets

    out, _ = sample_run
    ds = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "cache"))
    chats = ds.filter(lambda r: r["messages"] is not None)
    assert 0 < chats.num_rows < ds.num_rows
    first = chats[0]["messages"]
    assert all(set(t) == {"role", "content"} for t in first)
    assert any(t["role"] == "assistant" for t in first)


def test_report_shows_conversations_and_pii_by_role_without_values(sample_run):
    out, _ = sample_run
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Findings in conversations, by the role of the turn" in html
    assert "Conversations, per turn role" in html
    assert "Conversations" in html and "refusal" in html
    assert not any(v in html for v in CHAT["pii_across_turns"]["values"].values())
