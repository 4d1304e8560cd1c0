"""A curated output that holds conversations: ``thresher audit`` rescans each turn from the
``messages`` column and reports per turn and role without values; ``reidentify`` restores
encrypted values in turns; an erasure request finds a conversation by a value in any turn.

The output is a real run of the CLI (manifest, recipe, key) whose ``data/`` shard is then
rewritten with conversations anonymized by the same recipe and key (this branch reads no chat
input yet); one turn gets a planted miss, an e-mail address the anonymizer never saw."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli
from thresher.config import PipelineConfig
from thresher.pii.keys import read_key_file
from thresher.pii.process import PiiProcessor
from thresher.records import Turn, chat_document, render_turns
from thresher.schema import DOCUMENT_SCHEMA, document_row

NAME = "Aantje Mourik"
EMAIL = "aantje.mourik@postbox.org"
MISSED = "leaked.address@postbox.org"
CONVERSATIONS = [
    (
        ("user", f"Hi, my name is {NAME}. Mail me at {EMAIL} please."),
        ("assistant", "Happy to help, Aantje. Here is a draft. Put Mourik in the header."),
    ),
    (
        ("system", "You answer briefly."),
        ("user", "What is the capital of France?"),
        ("assistant", "Paris."),
    ),
]


@pytest.fixture(scope="module")
def chat_out(tmp_path_factory):
    base = tmp_path_factory.mktemp("pii_chat_out")
    corpus = base / "in"
    corpus.mkdir()
    (corpus / "c.jsonl").write_text(json.dumps({"id": "t", "text": "A plain note."}) + "\n")
    out = base / "out"
    env = {"XDG_CONFIG_HOME": str(base / "config"), "THRESHER_PROGRESS": "0"}
    proc = run_cli(
        "run",
        "pipelines/default.yaml",
        *("--set", "filters.enabled=false", "--set", "bias.enabled=false"),
        *("--set", "dedup.near.enabled=false", "--set", "pii.operators.EMAIL_ADDRESS=encrypt"),
        *("--input", str(corpus), "--output", str(out)),
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    key_file = base / "config" / "thresher" / "keys" / "default.key"
    manifest = json.loads((out / "manifest.json").read_text())
    cfg = PipelineConfig.model_validate(manifest["recipe"]).pii
    chats = [
        chat_document(f"chat-{i}", "s", i, tuple(Turn(r, c) for r, c in turns))
        for i, turns in enumerate(CONVERSATIONS)
    ]
    docs, _ = PiiProcessor(cfg, read_key_file(str(key_file))).process(chats)
    rows = [document_row(d) for d in docs]
    # the planted miss: appended to the first conversation's assistant turn after anonymization
    turn = rows[0]["messages"][1]
    turn["content"] += f" Or write to {MISSED}."
    rows[0]["text"] = render_turns(
        tuple(Turn(t["role"], t["content"]) for t in rows[0]["messages"])
    )
    (shard,) = sorted((out / "data").glob("*.parquet"))
    pq.write_table(pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA), shard)
    return {"base": base, "out": out, "env": env, "key_file": key_file, "rows": rows}


def test_the_output_holds_anonymized_turns(chat_out):
    first = chat_out["rows"][0]
    assert NAME not in json.dumps(first) and EMAIL not in json.dumps(first)
    fields = [(f["field"], f["entity_type"], f["operator"]) for f in first["pii"]]
    assert fields == [
        ("messages.0", "PERSON", "placeholder"),
        ("messages.0", "EMAIL_ADDRESS", "encrypt"),
        ("messages.1", "PERSON", "placeholder"),
        ("messages.1", "PERSON", "placeholder"),
    ]


def test_audit_rescans_each_turn_and_reports_per_role(chat_out):
    from thresher.pii.audit import audit, render

    result = audit(str(chat_out["out"]), sample=10, canaries=2, write=False)
    residual = result["residual"]
    assert residual["records_scanned"] == 2
    assistant = chat_out["rows"][0]["messages"][1]["content"]
    start = assistant.index(MISSED)
    flagged = [r for r in residual["review"] if r["entity_type"] == "EMAIL_ADDRESS"]
    assert flagged == [
        {
            "id": "chat-0",
            "field": "messages.1",
            "role": "assistant",
            "entity_type": "EMAIL_ADDRESS",
            "start": start,
            "end": start + len(MISSED),
            "score": 1.0,
        }
    ]
    # the replacements (placeholders, the ciphertext) are not residual
    assert not [r for r in residual["review"] if r["field"] == "messages.0"]
    assert residual["rate"]["EMAIL_ADDRESS"]["records"] == 1
    roles = residual["roles"]
    assert roles["assistant"]["turns"] == 2 and roles["assistant"]["turns_with_residual"] >= 1
    assert roles["user"]["turns"] == 2 and roles["system"]["turns"] == 1
    assert result["canary"]["overall"]["planted"] == 2 * 9
    assert result["canary"]["overall"]["recall"] >= 0.8
    summary = render(result)
    assert "messages.1 (assistant) EMAIL_ADDRESS" in summary and "assistant turns" in summary
    for value in (NAME, EMAIL, MISSED):
        assert value not in json.dumps(result) and value not in summary


def test_show_reads_the_flagged_turn(chat_out):
    from thresher.pii.audit import audit, show_flagged

    result = audit(str(chat_out["out"]), sample=10, canaries=0, write=False)
    shown = show_flagged(str(chat_out["out"]), result, limit=20)
    line = next(x for x in shown.splitlines() if "EMAIL_ADDRESS" in x)
    context = shown.splitlines()[shown.splitlines().index(line) + 1]
    assert "chat-0 messages.1 (assistant)" in line and f"«{MISSED}»" in context


def test_reidentify_restores_encrypted_values_in_turns(chat_out):
    dest = chat_out["base"] / "restored"
    proc = run_cli(
        "reidentify",
        str(chat_out["out"]),
        "--key-file",
        str(chat_out["key_file"]),
        "--output",
        str(dest),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {r["id"]: r for r in pq.read_table(dest / "data").to_pylist()}
    turns = rows["chat-0"]["messages"]
    assert turns[0]["content"] == f"Hi, my name is <PERSON>. Mail me at {EMAIL} please."
    assert rows["chat-0"]["text"] == render_turns(tuple(Turn(**t) for t in turns))
    restored = [f for f in rows["chat-0"]["pii"] if f["operator"] == "reidentified"]
    assert [(f["field"], turns[0]["content"][f["start"] : f["end"]]) for f in restored] == [
        ("messages.0", EMAIL)
    ]
    assert rows["chat-1"]["messages"] == chat_out["rows"][1]["messages"]


def test_an_erasure_request_finds_the_conversation_by_a_value_in_a_turn(chat_out):
    from thresher.forget import plan_erasure

    plan = plan_erasure(
        str(chat_out["out"]), value=NAME, entity="PERSON", key_file=str(chat_out["key_file"])
    )
    assert plan.erased == {"chat-0"}
