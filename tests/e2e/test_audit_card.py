"""Issue 18, items 8 and 9: after `thresher audit` (and with a privacy ledger) the dataset card
states results in prose and small tables, never JSON and never the ids of flagged records;
`thresher audit DIR --show N` prints flagged spans with context to the terminal only."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import load_manifest, run_cli

# Names and phone numbers score below the run's (deliberately high) threshold, so they stay
# in the output and the audit's high-recall rescan flags them.
RECORDS = [
    {"id": f"n{i}", "text": text}
    for i, text in enumerate(
        [
            "Jonas Lindqvist fixed the tyre on the old bicycle before the rain came back.",
            "Call Margaret Thornton on (415) 867-5309 about the garden plan for spring.",
            "The committee met on Tuesday and agreed to repaint the library windows.",
            "Oluwaseun Adebayo wrote the minutes and sent them to everyone that evening.",
            "Fresh bread arrived at the market early, and the bakers sold out by noon.",
            "Priya Raman will lead the walk along the river trail next Saturday morning.",
        ]
    )
]
LEDGER_ENTRY = {
    "run_id": "run-1",
    "status": "completed",
    "time": "2026-01-02T03:04:05Z",
    "model": {"name": "tiny", "path": None, "model_type": "gpt2"},
    "unit": "record",
    "unit_field": None,
    "epsilon": 1.5,
    "delta": 1e-5,
    "steps": 12,
}


def _digest(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    from thresher.finetune.ledger import record

    base = tmp_path_factory.mktemp("audit_card")
    (base / "in").mkdir()
    (base / "in" / "c.jsonl").write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n")
    env = {"XDG_CONFIG_HOME": str(base / "config"), "THRESHER_PROGRESS": "0"}
    out = base / "out"
    proc = run_cli(
        "run",
        "--input",
        str(base / "in"),
        "--output",
        str(out),
        "--quiet",
        "--set",
        "filters.enabled=false",
        "--set",
        "bias.enabled=false",
        "--set",
        "dedup.near.enabled=false",
        "--set",
        "pii.score_threshold=0.95",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    record(out, dict(LEDGER_ENTRY))  # the real ledger module, as `thresher finetune` writes it
    shown = base / "shown"
    shutil.copytree(out, shown)
    args = ("--canaries", "4", "--seed", "0")
    plain = run_cli("audit", str(out), *args, env=env)
    assert plain.returncode == 0, plain.stderr[-2000:]
    show = run_cli("audit", str(shown), *args, "--show", "3", env=env)
    assert show.returncode == 0, show.stderr[-2000:]
    return {"out": out, "shown": shown, "plain": plain, "show": show}


def test_show_prints_flagged_spans_with_type_score_and_context(audited):
    stdout = audited["show"].stdout
    review = load_manifest(audited["shown"])["audit"]["residual"]["review"]
    assert review, "the fixture must leave residual PII for the audit to flag"
    assert "flagged spans (3 shown; printed here only, never written):" in stdout
    texts = {r["id"]: r["text"] for r in RECORDS}
    for r in review[:3]:
        span = texts[r["id"]][r["start"] : r["end"]]
        assert f"{r['entity_type']} (score {r['score']:.2f}) in {r['id']} text" in stdout
        assert f"«{span}»" in stdout
    assert "flagged spans" not in audited["plain"].stdout


def test_show_changes_no_file(audited):
    """Everything written with --show is byte for byte what the same audit writes without it,
    and no file holds the printed spans."""
    assert _digest(audited["shown"]) == _digest(audited["out"])
    context_lines = [line.strip() for line in audited["show"].stdout.splitlines() if "«" in line]
    assert context_lines
    for p in audited["shown"].rglob("*"):
        if p.is_file() and p.suffix in (".json", ".html", ".md"):
            blob = p.read_text(encoding="utf-8")
            assert "«" not in blob and not any(c in blob for c in context_lines), p


def test_show_and_json_are_exclusive(audited):
    proc = run_cli("audit", str(audited["out"]), "--json", "--show", "2")
    assert proc.returncode == 2 and "not allowed with argument" in proc.stderr


def test_card_states_audit_and_ledger_in_prose_without_json_or_flagged_ids(audited):
    out = audited["out"]
    card = (out / "README.md").read_text(encoding="utf-8")
    body = card.split("---", 2)[2]  # after the YAML header the Hub reads
    assert "{" not in body and "}" not in body and "```" not in body
    audit = load_manifest(out)["audit"]
    res, can = audit["residual"], audit["canary"]
    for r in res["review"]:
        assert r["id"] not in body
    anyr = res["any"]
    low, high = anyr["ci95"]
    assert (
        f"{anyr['records']:,} of them ({100 * anyr['rate']:.2f}%; 95% interval "
        f"{100 * low:.2f}% to {100 * high:.2f}%)" in body
    )
    ov = can["overall"]
    assert f"{ov['caught']:,} of {ov['planted']:,} were removed (recall " in body
    for entity, r in res["rate"].items():
        assert f"| {entity} | {r['records']:,} | {100 * r['rate']:.2f}% |" in body
    assert "total epsilon 1.500, total delta 1e-05" in body
    assert (
        "| 2026-01-02T03:04:05Z | tiny (gpt2) | record | 1.500 | 1e-05 | 12 | completed |" in body
    )


def test_card_refresh_after_a_ledger_change(audited, tmp_path):
    """What `thresher finetune` calls when it has written the ledger."""
    from thresher.card import refresh_card
    from thresher.finetune.ledger import record

    copy = tmp_path / "copy"
    shutil.copytree(audited["out"], copy)
    record(copy, {**LEDGER_ENTRY, "run_id": "run-2", "epsilon": 0.5})
    assert refresh_card(str(copy)) is not None
    card = (copy / "README.md").read_text(encoding="utf-8")
    assert "2 fine-tuning run(s)" in card and "total epsilon 2.000" in card
    # a directory that `thresher run` did not write has no card to refresh
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "manifest.json").write_text('{"counts": {}}')
    assert refresh_card(str(tmp_path / "bare")) is None
    assert not (tmp_path / "bare" / "README.md").exists()


def test_audit_help_prints_a_plain_percent_sign():
    proc = run_cli("audit", "--help")
    assert proc.returncode == 0 and "95% interval" in proc.stdout and "%%" not in proc.stdout


def test_finetune_rerenders_the_card(audited, tmp_path):
    pytest.importorskip("opacus")
    copy = tmp_path / "copy"
    shutil.copytree(audited["out"], copy)
    proc = run_cli(
        "finetune",
        str(copy),
        "--model",
        "tiny",
        "--output",
        str(tmp_path / "model"),
        "--epsilon",
        "8",
        "--epochs",
        "1",
        "--batch-size",
        "2",
        "--max-length",
        "16",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    entries = json.loads((copy / "privacy_ledger.json").read_text())
    total = sum(e["epsilon"] for e in entries)
    card = (copy / "README.md").read_text(encoding="utf-8")
    assert "2 fine-tuning run(s)" in card and f"total epsilon {total:.3f}" in card
    body = card.split("---", 2)[2]
    assert "{" not in body and str(tmp_path) not in body  # no model dict, no local paths
