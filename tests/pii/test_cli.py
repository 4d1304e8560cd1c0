"""End to end: the real ``thresher`` CLI on a small corpus with planted PII. Every planted value
must be gone from data/, lineage/, dead_letter/, manifest.json and the captured logs; the audit
and reidentify commands work on the result."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli

PLANTED = {
    "PERSON": ["Margaret Thornton", "Oluwaseun Adebayo"],
    "EMAIL_ADDRESS": ["m.thornton@northwind-mail.com", "seun.adebayo@postbox.org"],
    "PHONE_NUMBER": ["(415) 867-5309", "212-555-0187"],
    "CREDIT_CARD": ["4929 1234 5678 9014"],
    "US_SSN": ["536-22-8876"],
    "IP_ADDRESS": ["172.58.10.221"],
    "IBAN_CODE": ["GB82 WEST 1234 5698 7654 32"],
    "API_KEY": ["ghp_R4nd0mT0k3nV4lu3F0rT3st1ngXyZ012345"],
    "PASSWORD": ["Pa55w0rdPlant3d"],
}
ALL_VALUES = [v for values in PLANTED.values() for v in values]

RECORDS = [
    {
        "id": "r1",
        "text": "Dr Margaret Thornton can be reached at m.thornton@northwind-mail.com "
        "or (415) 867-5309.\n\nThe quarterly report is attached.",
        "author_email": "seun.adebayo@postbox.org",
        "user_id": "u-1001",
    },
    {
        "id": "r2",
        "text": "Payment with card 4929 1234 5678 9014 failed; SSN on file 536-22-8876.",
        "author_email": "m.thornton@northwind-mail.com",
        "user_id": "u-1002",
    },
    {
        "id": "r3",
        "text": "Login from 172.58.10.221 using token ghp_R4nd0mT0k3nV4lu3F0rT3st1ngXyZ012345"
        " and DATABASE_URL=postgres://app:Pa55w0rdPlant3d@db.internal/prod",
        "author_email": None,
        "user_id": "u-1001",
    },
    {
        "id": "r4",
        "text": "Mr Oluwaseun Adebayo asked to wire funds to GB82 WEST 1234 5698 7654 32, "
        "call him on 212-555-0187.",
        "author_email": "",
        "user_id": "u-1003",
    },
    {
        "id": "r5",
        "text": "The quarterly report is attached.",
        "author_email": None,
        "user_id": "u-9",
    },
]


def _all_text(out: Path) -> str:
    parts = [(out / "manifest.json").read_text(encoding="utf-8")]
    for sub in ("data", "lineage", "dead_letter"):
        for shard in sorted((out / sub).glob("*.parquet")):
            parts.append(json.dumps(pq.read_table(shard).to_pylist(), default=str))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("pii_e2e")
    corpus = base / "in"
    corpus.mkdir()
    lines = [json.dumps(r) for r in RECORDS]
    # A malformed line that still holds PII: it must be dead-lettered without its content.
    lines.append('{"id": "bad", "text": "Margaret Thornton 536-22-8876" BROKEN')
    (corpus / "corpus.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = base / "out"
    env = {"XDG_CONFIG_HOME": str(base / "config"), "THRESHER_PROGRESS": "0"}
    proc = run_cli(
        "run",
        "pipelines/default.yaml",
        # short fixture records: this module tests PII, not the quality filters or dedup
        "--set",
        "filters.enabled=false",
        "--set",
        "bias.enabled=false",
        "--set",
        "dedup.near.enabled=false",
        "--input",
        str(corpus),
        "--output",
        str(out),
        "--set",
        "limits.max_dead_letter_fraction=0.5",
        "--set",
        "pii.operators.PERSON=surrogate",
        "--set",
        "pii.operators.EMAIL_ADDRESS=encrypt",
        "--set",
        "pii.operators.PHONE_NUMBER=hash",
        "--set",
        "pii.fields.user_id=hash",
        env=env,
    )
    return {"base": base, "out": out, "proc": proc, "env": env}


def test_run_succeeds_and_balances(run):
    assert run["proc"].returncode == 0, run["proc"].stderr[-2000:]
    manifest = json.loads((run["out"] / "manifest.json").read_text())
    assert manifest["accounting"]["balanced"]
    assert manifest["counts"]["kept"] == 5 and manifest["counts"]["dead_letter"] == 1
    pii = manifest["pii"]
    assert pii["entities"]["PERSON"] >= 2 and pii["entities"]["EMAIL_ADDRESS"] >= 3
    assert pii["key"]["source"] == "store" and pii["key"]["id"].startswith("k-")
    key_file = run["base"] / "config" / "thresher" / "keys" / "default.key"
    assert key_file.is_file() and (key_file.stat().st_mode & 0o777) == 0o600
    assert key_file.read_text().strip() not in _all_text(run["out"])


def test_no_planted_value_anywhere(run):
    everything = _all_text(run["out"])
    logs = run["proc"].stdout + run["proc"].stderr
    for value in ALL_VALUES:
        assert value not in everything, value
        assert value not in logs, value


def test_findings_point_at_replacements(run):
    rows = {r["id"]: r for r in pq.read_table(run["out"] / "data").to_pylist()}
    r1 = rows["r1"]
    kinds = {f["entity_type"]: f for f in r1["pii"] if f["field"] is None}
    assert set(kinds) >= {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"}
    assert r1["text"][kinds["PHONE_NUMBER"]["start"] : kinds["PHONE_NUMBER"]["end"]].startswith(
        "<PHONE_NUMBER:"
    )
    assert all(len(f["value_hmac"]) == 64 for f in r1["pii"])
    # The same e-mail address gets the same ciphertext in the text of r1 and the meta of r2.
    meta2 = json.loads(rows["r2"]["meta"])
    email_ct = r1["text"][kinds["EMAIL_ADDRESS"]["start"] : kinds["EMAIL_ADDRESS"]["end"]]
    assert meta2["author_email"] == email_ct
    # user_id is a keyed pseudonym that still groups r1 and r3.
    assert json.loads(r1["meta"])["user_id"] == json.loads(rows["r3"]["meta"])["user_id"]
    assert json.loads(r1["meta"])["user_id"] != "u-1001"
    assert rows["r5"]["pii"] == []


def test_explain_lists_pii_types_without_values(run):
    proc = run_cli("explain", str(run["out"]), "r1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "pii        PERSON in text" in proc.stdout
    assert "EMAIL_ADDRESS in meta.author_email" in proc.stdout
    for value in ALL_VALUES:
        assert value not in proc.stdout


def test_audit_writes_into_the_manifest(run):
    proc = run_cli("audit", str(run["out"]), "--canaries", "10", env=run["env"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    manifest = json.loads((run["out"] / "manifest.json").read_text())
    audit = manifest["audit"]
    # the report is rendered again, now with the audit's numbers
    assert "canary recall" in (run["out"] / "report.html").read_text()
    assert audit["residual"]["records_scanned"] == 5
    assert audit["canary"]["overall"]["planted"] == 5 * 9  # every record, nine types each
    assert audit["canary"]["overall"]["recall"] >= 0.8
    for value in ALL_VALUES:
        assert value not in json.dumps(manifest) and value not in proc.stdout + proc.stderr


def test_reidentify_restores_encrypted_values(run):
    key_file = run["base"] / "config" / "thresher" / "keys" / "default.key"
    dest = run["base"] / "restored"
    proc = run_cli(
        "reidentify", str(run["out"]), "--key-file", str(key_file), "--output", str(dest)
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {r["id"]: r for r in pq.read_table(dest / "data").to_pylist()}
    assert "m.thornton@northwind-mail.com" in rows["r1"]["text"]
    assert json.loads(rows["r1"]["meta"])["author_email"] == "seun.adebayo@postbox.org"
    assert "Margaret Thornton" not in rows["r1"]["text"]  # surrogates are not reversible
    wrong = run["base"] / "wrong.key"
    wrong.write_text("0123456789abcdef0123456789abcdef")
    bad = run_cli(
        "reidentify",
        str(run["out"]),
        "--key-file",
        str(wrong),
        "--output",
        str(run["base"] / "restored2"),
    )
    assert bad.returncode == 2 and "key" in bad.stderr


def test_same_output_with_two_worker_processes(run):
    out2 = run["base"] / "out2"
    proc = run_cli(
        "run",
        "pipelines/default.yaml",
        # short fixture records: this module tests PII, not the quality filters or dedup
        "--set",
        "filters.enabled=false",
        "--set",
        "bias.enabled=false",
        "--set",
        "dedup.near.enabled=false",
        "--input",
        str(run["base"] / "in"),
        "--output",
        str(out2),
        "--set",
        "limits.max_dead_letter_fraction=0.5",
        "--set",
        "pii.operators.PERSON=surrogate",
        "--set",
        "pii.operators.EMAIL_ADDRESS=encrypt",
        "--set",
        "pii.operators.PHONE_NUMBER=hash",
        "--set",
        "pii.fields.user_id=hash",
        "--direct_num_workers",
        "2",
        "--direct_running_mode",
        "multi_processing",
        env=run["env"],
    )
    assert proc.returncode == 0, proc.stderr[-2000:]

    def rows(out):
        return sorted(pq.read_table(out / "data").to_pylist(), key=lambda r: r["id"])

    assert rows(out2) == rows(run["out"])
    for value in ALL_VALUES:
        assert value not in proc.stdout + proc.stderr


def test_missing_key_env_fails_before_running(tmp_path):
    (tmp_path / "c.jsonl").write_text('{"id": "x", "text": "hello"}\n')
    proc = run_cli(
        "run",
        "pipelines/default.yaml",
        # short fixture records: this module tests PII, not the quality filters or dedup
        "--set",
        "filters.enabled=false",
        "--set",
        "bias.enabled=false",
        "--set",
        "dedup.near.enabled=false",
        "--input",
        str(tmp_path),
        "--output",
        str(tmp_path / "o"),
        "--set",
        "pii.key_env=THRESHER_NO_SUCH_KEY_VAR",
    )
    assert proc.returncode == 2
    assert "THRESHER_NO_SUCH_KEY_VAR" in proc.stderr
    assert not (tmp_path / "o" / "manifest.json").exists()


def test_unknown_entity_fails_before_running(tmp_path):
    (tmp_path / "c.jsonl").write_text('{"id": "x", "text": "hello"}\n')
    proc = run_cli(
        "run",
        "pipelines/default.yaml",
        "--input",
        str(tmp_path),
        "--output",
        str(tmp_path / "o"),
        "--set",
        "pii.entities=[PERSON, NOT_A_TYPE]",
        env={"XDG_CONFIG_HOME": str(tmp_path / "config")},
    )
    assert proc.returncode == 2
    assert "NOT_A_TYPE" in proc.stderr and "Supported" in proc.stderr
    assert not (tmp_path / "o" / "manifest.json").exists()
