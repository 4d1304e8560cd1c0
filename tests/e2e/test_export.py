"""``thresher export`` on real outputs, and ``length.*`` through a real ``thresher run``.

Documents come from a real run of the CLI. Conversation outputs are that run's directory with
``data/`` rewritten through the real writer's row function (``thresher.schema.document_row``)
and schema, in two shards whose ids interleave, so the export's id order is tested too.
"""

import gzip
import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import load_manifest, read_parquet_dir, run_cli
from tests.e2e.test_beam_paths import SCHEME, MirrorFileSystem
from tests.stages.test_length import make_tokenizer
from thresher.records import Document, Turn, chat_document, render_turns
from thresher.schema import DOCUMENT_SCHEMA, document_row

LONG = " ".join(["alpha beta gamma delta"] * 10)  # 40 tokens with the test tokenizer
TEXTS = {
    "t3": "Ünïcode café, 東京 and more words here.",
    "t1": "A short plain document about nothing much.",
    "t2": LONG,
}


@pytest.fixture(scope="module")
def doc_run(tmp_path_factory):
    """A real run on three text records, with a token limit of 20 (``t2`` is over it)."""
    root = tmp_path_factory.mktemp("export")
    corpus = root / "corpus.jsonl"
    corpus.write_text(
        "".join(
            json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in TEXTS.items()
        ),
        encoding="utf-8",
    )
    tokenizer = make_tokenizer(root / "tokenizer.json")
    out = root / "out"
    proc = run_cli(
        "run",
        "pipelines/default.yaml",
        "--input",
        str(corpus),
        "--output",
        str(out),
        "--quiet",
        "--set",
        "filters.enabled=false",
        "--set",
        "pii.enabled=false",
        "--set",
        "bias.enabled=false",
        "--set",
        f"length.tokenizer={tokenizer}",
        "--set",
        "length.max_tokens=20",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


CHATS = [
    chat_document(
        "c4",
        "c.jsonl",
        4,
        (Turn("user", "Wie heißt du?"), Turn("assistant", "Ich bin ein Modell.")),
    ),
    chat_document(
        "c2",
        "c.jsonl",
        2,
        (Turn("system", "Be brief."), Turn("user", "2+2?"), Turn("assistant", "4")),
    ),
    chat_document(
        "c1",
        "c.jsonl",
        1,
        (
            Turn("user", "Hi"),
            Turn("assistant", "Hello!"),
            Turn("user", "Weather?"),
            Turn("tool", '{"temp": 21}'),
            Turn("assistant", "21 °C."),
        ),
    ),
    chat_document("c3", "c.jsonl", 3, (Turn("user", "Name a color."), Turn("assistant", "Blue."))),
]


def with_records(run_dir, target, shards):
    """A copy of the real output ``run_dir`` at ``target`` whose ``data/`` holds ``shards``
    (lists of records), written with the output schema and row function."""
    shutil.copytree(run_dir, target)
    shutil.rmtree(target / "data")
    (target / "data").mkdir()
    for i, records in enumerate(shards):
        table = pa.Table.from_pylist([document_row(d) for d in records], schema=DOCUMENT_SCHEMA)
        pq.write_table(table, target / "data" / f"part-{i:05d}-of-{len(shards):05d}.parquet")
    return target


@pytest.fixture(scope="module")
def chat_out(doc_run, tmp_path_factory):
    # ids interleave across the shards: c4, c2 | c1, c3
    return with_records(doc_run, tmp_path_factory.mktemp("chats") / "out", [CHATS[:2], CHATS[2:]])


def lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def export(directory, fmt, output, *extra):
    return run_cli("export", str(directory), "--format", fmt, "--output", str(output), *extra)


def test_a_token_limit_in_a_real_run_drops_and_counts(doc_run):
    lineage = {r["id"]: r for r in read_parquet_dir(doc_run / "lineage")}
    assert lineage["t2"]["fate"] == "dropped"
    assert (lineage["t2"]["stage"], lineage["t2"]["reason"]) == ("length", "too_many_tokens")
    details = json.loads(lineage["t2"]["details"])
    assert (details["tokens"], details["max_tokens"]) == (40, 20)
    kept = {r["id"]: r for r in read_parquet_dir(doc_run / "data")}
    assert sorted(kept) == ["t1", "t3"]
    assert {s["name"]: s["value"] for s in kept["t1"]["signals"]}["tokens"] == 8.0
    counts = load_manifest(doc_run)["counts"]
    assert counts["dropped_by_reason"] == {"too_many_tokens": 1}
    assert counts["input"] == counts["kept"] + counts["dropped"] == 3


def test_text_export_of_documents_in_id_order(doc_run, tmp_path):
    target = tmp_path / "train.jsonl"
    proc = export(doc_run, "text", target, "--id")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"wrote 2 records (text) to {target}"
    kept = {r["id"]: r["text"] for r in read_parquet_dir(doc_run / "data")}
    assert lines(target) == [{"id": i, "text": kept[i]} for i in ("t1", "t3")]
    raw = target.read_text(encoding="utf-8")
    assert "café" in raw and "東京" in raw  # UTF-8 as is, not \\u escapes
    for word in ("café", "plain", "東京"):  # never text on the terminal
        assert word not in proc.stdout + proc.stderr


@pytest.mark.parametrize("fmt", ["openai", "sharegpt", "alpaca"])
def test_documents_are_refused_by_the_conversation_formats(doc_run, tmp_path, fmt):
    target = tmp_path / "train.jsonl"
    proc = export(doc_run, fmt, target)
    assert proc.returncode == 2
    assert f"--format {fmt} cannot hold 2 of the 2 records" in proc.stderr
    assert "first is id 't1'" in proc.stderr and "--format text" in proc.stderr
    assert not target.exists() and not list(tmp_path.iterdir())


def test_openai_round_trip(chat_out, tmp_path):
    target = tmp_path / "train.jsonl"
    proc = export(chat_out, "openai", target)
    assert proc.returncode == 0, proc.stderr
    by_id = {d.id: d for d in CHATS}
    expected = [
        {"messages": [{"role": t.role, "content": t.content} for t in by_id[i].messages]}
        for i in ("c1", "c2", "c3", "c4")
    ]
    assert lines(target) == expected
    assert "Wie heißt du?" in target.read_text(encoding="utf-8")


def test_sharegpt_maps_roles(chat_out, tmp_path):
    target = tmp_path / "train.jsonl"
    assert export(chat_out, "sharegpt", target, "--id").returncode == 0
    got = lines(target)
    assert [g["id"] for g in got] == ["c1", "c2", "c3", "c4"]
    assert got[0]["conversations"] == [
        {"from": "human", "value": "Hi"},
        {"from": "gpt", "value": "Hello!"},
        {"from": "human", "value": "Weather?"},
        {"from": "tool", "value": '{"temp": 21}'},
        {"from": "gpt", "value": "21 °C."},
    ]
    assert got[1]["conversations"][0] == {"from": "system", "value": "Be brief."}


def test_text_export_of_conversations_is_their_text_view(chat_out, tmp_path):
    target = tmp_path / "train.jsonl"
    assert export(chat_out, "text", target).returncode == 0
    by_id = {d.id: d for d in CHATS}
    assert lines(target) == [{"text": render_turns(by_id[i].messages)} for i in sorted(by_id)]


def test_alpaca_refuses_multi_turn_conversations(chat_out, tmp_path):
    target = tmp_path / "train.jsonl"
    proc = export(chat_out, "alpaca", target)
    assert proc.returncode == 2
    assert "--format alpaca cannot hold 1 of the 4 records" in proc.stderr
    assert "first is id 'c1'" in proc.stderr
    assert not target.exists()


def test_alpaca_from_single_exchanges(doc_run, tmp_path):
    singles = with_records(doc_run, tmp_path / "out", [[CHATS[0], CHATS[1], CHATS[3]]])
    target = tmp_path / "train.jsonl"
    proc = export(singles, "alpaca", target, "--id")
    assert proc.returncode == 0, proc.stderr
    assert lines(target) == [
        {"id": "c2", "instruction": "2+2?", "input": "", "output": "4", "system": "Be brief."},
        {"id": "c3", "instruction": "Name a color.", "input": "", "output": "Blue."},
        {"id": "c4", "instruction": "Wie heißt du?", "input": "", "output": "Ich bin ein Modell."},
    ]


def test_a_mixed_output_names_the_documents(doc_run, tmp_path):
    mixed = with_records(
        doc_run, tmp_path / "out", [[CHATS[0], Document("d9", "plain text", "d.jsonl", 9)]]
    )
    proc = export(mixed, "openai", tmp_path / "train.jsonl")
    assert proc.returncode == 2
    assert "cannot hold 1 of the 2 records" in proc.stderr and "first is id 'd9'" in proc.stderr


def test_an_empty_output_exports_an_empty_file(doc_run, tmp_path):
    empty = with_records(doc_run, tmp_path / "out", [])
    target = tmp_path / "train.jsonl"
    proc = export(empty, "openai", target)
    assert proc.returncode == 0, proc.stderr
    assert target.read_bytes() == b"" and "wrote 0 records" in proc.stdout


def test_existing_file_not_an_output_and_bad_format(chat_out, tmp_path):
    target = tmp_path / "train.jsonl"
    target.write_text("keep me\n")
    proc = export(chat_out, "openai", target)
    assert proc.returncode == 2 and "exists" in proc.stderr and "--overwrite" in proc.stderr
    assert target.read_text() == "keep me\n"
    assert export(chat_out, "openai", target, "--overwrite").returncode == 0
    assert len(lines(target)) == 4
    proc = export(tmp_path, "openai", tmp_path / "other.jsonl")
    assert proc.returncode == 2 and "is not a thresher output" in proc.stderr
    proc = export(chat_out, "jsonl", tmp_path / "other.jsonl")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_gzip_by_file_name(chat_out, tmp_path):
    target = tmp_path / "train.jsonl.gz"
    assert export(chat_out, "openai", target).returncode == 0
    plain = tmp_path / "train.jsonl"
    assert export(chat_out, "openai", plain).returncode == 0
    assert gzip.decompress(target.read_bytes()) == plain.read_bytes()


def test_export_reads_and_writes_beam_paths(chat_out, tmp_path):
    from thresher.cli import main

    MirrorFileSystem.ROOT = str(tmp_path)
    shutil.copytree(chat_out, tmp_path / "out")
    code = main(
        ["export", SCHEME + "out", "--format", "openai", "--output", SCHEME + "exp/train.jsonl"]
    )
    assert code == 0
    local = tmp_path / "local.jsonl"
    assert export(chat_out, "openai", local).returncode == 0
    assert (tmp_path / "exp" / "train.jsonl").read_bytes() == local.read_bytes()
    assert not list((tmp_path / "exp").glob("*.inprogress"))


def test_cli_formats_are_the_exporters():
    from thresher.cli import EXPORT_FORMATS
    from thresher.export import FORMATS

    assert EXPORT_FORMATS == FORMATS


def test_an_output_written_before_conversations_exports_as_text(doc_run, tmp_path):
    """document/1 outputs have no messages column: every record is a document."""
    from thresher.errors import ConfigError
    from thresher.export import export as export_fn

    old = tmp_path / "out"
    shutil.copytree(doc_run, old)
    for shard in (old / "data").glob("*.parquet"):
        pq.write_table(pq.read_table(shard).drop_columns(["messages"]), shard)
    target = tmp_path / "train.jsonl"
    assert export_fn(str(old), "text", str(target)).records == 2
    assert [line["text"] for line in lines(target)] == [TEXTS["t1"], TEXTS["t3"]]
    with pytest.raises(ConfigError, match="cannot hold 2 of the 2 records"):
        export_fn(str(old), "openai", str(tmp_path / "other.jsonl"))


def test_a_missing_tokenizer_stops_the_run_before_it_starts(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"id": "t1", "text": TEXTS["t1"]}) + "\n")
    out = tmp_path / "out"
    proc = run_cli(
        "run",
        "pipelines/default.yaml",
        "--input",
        str(corpus),
        "--output",
        str(out),
        "--quiet",
        "--set",
        f"length.tokenizer={tmp_path / 'nope.json'}",
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "length.tokenizer" in proc.stderr and "does not exist" in proc.stderr
    assert not (out / "data").exists()
