"""``DropNearDuplicates`` on real Beam: the stage's outputs exactly, the distributed components
against union-find, and end-to-end CLI runs (one and two workers, incremental)."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import REPO, load_manifest, read_parquet_dir, run_cli
from thresher.config import NearDedupConfig
from thresher.core import components as cc
from thresher.core.minhash import shingles
from thresher.io.dedup_index import delete_from_index
from thresher.records import Document
from thresher.stages.near_dedup import (
    DISTRIBUTED_ROUNDS,
    ConnectedComponents,
    DropNearDuplicates,
    component_rounds,
)

OPTIONS = ["--runner=FnApiRunner"]

# A small made-up vocabulary: random sentences over it share almost no 5-word shingles.
VOCAB = (  # noqa: SIM905 (a word list reads better as prose)
    "river stone garden window market letter winter morning village teacher harbor bridge "
    "orchard lantern meadow engine signal council ledger blanket canyon pepper violin "
    "castle harvest candle marble pocket thunder ribbon saddle mirror feather compass "
    "anchor basket copper desert forest glacier hammer island jacket kettle ladder needle "
    "orange planet quarry rocket silver tunnel valley wagon yellow zebra beacon cabin "
    "dragon falcon ginger helmet insect jungle kernel lemon magnet nectar oyster pillow "
    "quartz rabbit salmon tomato uniform velvet walnut barley cedar dolphin carries finds "
    "builds watches follows paints opens closes moves holds keeps sends quietly slowly "
    "often never always early later again almost nearly the a its their every each some "
    "many few old new small large bright dark warm cold"
).split()


def prose(rng: random.Random, words: int) -> str:
    out: list[str] = []
    while len(out) < words:
        n = rng.randint(8, 16)
        sentence = [rng.choice(VOCAB) for _ in range(n)]
        sentence[0] = sentence[0].capitalize()
        out.extend([*sentence[:-1], sentence[-1] + "."])
    return " ".join(out[:words])


def substitute(rng: random.Random, text: str, count: int) -> str:
    words = text.split()
    for i in rng.sample(range(len(words)), count):
        words[i] = "zz"  # shorter than any vocabulary word: the original stays the longest
    return " ".join(words)


def make_corpus(seed: int, prefix: str) -> tuple[list[dict], dict[str, set[str]], set[str]]:
    """Unique documents, planted near-duplicate clusters (expected: one kept per cluster) and
    heavily edited pairs that must both be kept. Returns (records, clusters, kept_pairs)."""
    rng = random.Random(seed)
    records: list[dict] = []
    clusters: dict[str, set[str]] = {}
    for i in range(16):
        records.append({"id": f"{prefix}u{i:02d}", "text": prose(rng, rng.randint(150, 250))})
    for i in range(5):
        base = prose(rng, 220)
        ids = {f"{prefix}c{i}-0", f"{prefix}c{i}-1"}
        records.append({"id": f"{prefix}c{i}-0", "text": base})
        records.append({"id": f"{prefix}c{i}-1", "text": substitute(rng, base, 2)})
        if i < 2:  # a third member: one more edit elsewhere, and a reordering-free deletion
            words = base.split()
            del words[rng.randrange(len(words))]
            records.append({"id": f"{prefix}c{i}-2", "text": " ".join(words)})
            ids.add(f"{prefix}c{i}-2")
        clusters[f"{prefix}c{i}-0"] = ids
    far: set[str] = set()
    for i in range(2):
        base = prose(rng, 200)
        records.append({"id": f"{prefix}f{i}-0", "text": base})
        records.append({"id": f"{prefix}f{i}-1", "text": substitute(rng, base, 30)})
        far |= {f"{prefix}f{i}-0", f"{prefix}f{i}-1"}
    rng.shuffle(records)
    return records, clusters, far


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


# ---------------------------------------------------------------- the stage in a TestPipeline


def doc(id_: str, text: str | None, position: int = 0) -> Document:
    return Document(id=id_, text=text, source="mem", position=position)  # type: ignore[arg-type]


def test_stage_outputs_exactly():
    rng = random.Random(11)
    base = prose(rng, 120)
    other = prose(rng, 120)
    docs = [
        doc("a", base, 0),
        doc("b", substitute(rng, base, 1), 1),  # shorter: duplicate of "a"
        doc("c", other, 2),
        doc("d", "!!! ???", 3),  # no shingles: passes untouched
        doc("e", None, 4),  # cannot be processed: dead letter
    ]
    with TestPipeline(options=PipelineOptions(OPTIONS)) as p:
        out = p | beam.Create(docs) | DropNearDuplicates(NearDedupConfig())
        assert_that(out["main"] | "Ids" >> beam.Map(lambda d: d.id), equal_to(["a", "c", "d"]))
        fates = out["fates"] | "F" >> beam.Map(
            lambda f: (
                f.id,
                f.fate,
                f.stage,
                f.reason,
                f.duplicate_of,
                f.details["cluster_size"],
                f.details["jaccard_estimate"] >= 0.8,
                f.cluster_id.startswith("n"),
            )
        )
        assert_that(
            fates,
            equal_to([("b", "duplicate", "near_dedup", "near_duplicate", "a", 2, True, True)]),
            label="Fates",
        )
        dead = out["dead_letter"] | "D" >> beam.Map(lambda d: (d.id, d.stage, d.error_type))
        assert_that(dead, equal_to([("e", "near_dedup", "AttributeError")]), label="Dead")
        index = out["index"] | "I" >> beam.Map(lambda e: (e.id, len(e.signature), len(e.band_keys)))
        assert_that(
            index,
            equal_to([("a", 512, 14), ("b", 512, 14), ("c", 512, 14)]),
            label="Index",
        )


def test_char_shingles_find_near_duplicates_in_text_without_spaces():
    rng = random.Random(4)
    chars = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长"  # noqa: E501
    base = "".join(rng.choice(chars) for _ in range(400))
    edited = base[:200] + "变" + base[201:]
    other = "".join(rng.choice(chars) for _ in range(400))
    cfg = NearDedupConfig(shingle="char", ngram=3)
    docs = [doc("zh-a", base, 0), doc("zh-b", edited, 1), doc("zh-c", other, 2)]
    with TestPipeline(options=PipelineOptions(OPTIONS)) as p:
        out = p | beam.Create(docs) | DropNearDuplicates(cfg)
        assert_that(out["main"] | "Ids" >> beam.Map(lambda d: d.id), equal_to(["zh-a", "zh-c"]))
        fates = out["fates"] | "F" >> beam.Map(lambda f: (f.id, f.duplicate_of))
        assert_that(fates, equal_to([("zh-b", "zh-a")]), label="Fates")
    # Word shingles see one "word" per document here: no near duplicate is possible.
    with TestPipeline(options=PipelineOptions(OPTIONS)) as p:
        out = p | beam.Create(docs) | DropNearDuplicates(NearDedupConfig())
        assert_that(out["fates"], equal_to([]))


# ---------------------------------------------------------------- distributed components

beam_graphs = st.lists(
    st.tuples(st.integers(0, 14), st.integers(0, 14)), min_size=1, max_size=25
).map(lambda es: sorted({cc.edge(f"n{a:02d}", f"n{b:02d}") for a, b in es if a != b}))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(beam_graphs, st.integers(0, 3))
def test_beam_components_equal_union_find(edges, rounds):
    expected = sorted(cc.components(edges).items())
    with TestPipeline(options=PipelineOptions(OPTIONS)) as p:
        out = p | beam.Create(edges) | ConnectedComponents(rounds)
        assert_that(out["labels"], equal_to(expected))


@pytest.mark.parametrize(
    ("setting", "runner", "rounds"),
    [
        ("auto", "FnApiRunner", 0),
        ("auto", "DirectRunner", 0),
        ("auto", None, 0),  # Beam's default, the DirectRunner
        ("auto", "apache_beam.runners.portability.fn_api_runner.FnApiRunner", 0),
        ("auto", "DataflowRunner", DISTRIBUTED_ROUNDS),
        ("auto", "FlinkRunner", DISTRIBUTED_ROUNDS),
        ("auto", "PortableRunner", DISTRIBUTED_ROUNDS),
        (3, "FnApiRunner", 3),
        (0, "DataflowRunner", 0),
    ],
)
def test_component_rounds_auto_unrolls_none_on_local_runners(setting, runner, rounds):
    assert component_rounds(setting, runner) == rounds
    # the options name the runner; the graph is only built (no runner by that name is made)
    options = PipelineOptions([f"--runner={runner}"] if runner else [])
    p = beam.Pipeline(runner=FnApiRunner(), options=options)
    cfg = NearDedupConfig(component_rounds=setting)
    _ = p | beam.Create([]) | DropNearDuplicates(cfg)
    labels = {t.unique_name for t in p.to_runner_api().components.transforms.values()}
    unrolled = {n.split("/Round")[1][:2] for n in labels if "/Components/Round" in n}
    assert unrolled == {f"{r:02d}" for r in range(rounds)}


def test_beam_components_on_a_long_path_converge_without_residual():
    nodes = [f"n{i:03d}" for i in range(200)]
    random.Random(2).shuffle(nodes)
    edges = [cc.edge(nodes[i], nodes[i + 1]) for i in range(199)]
    with TestPipeline(options=PipelineOptions(OPTIONS)) as p:
        out = p | beam.Create(edges) | ConnectedComponents(12)
        assert_that(out["labels"], equal_to([(n, "n000") for n in sorted(nodes)]))
        assert_that(out["stats"], equal_to([]), label="NoResidual")


# ---------------------------------------------------------------- end to end


def _run(inp: Path, out: Path, *extra: str):
    result = run_cli(
        "run",
        "pipelines/default.yaml",
        "--input",
        str(inp),
        "--output",
        str(out),
        "--set",
        "input.id_field=id",
        # the fixture prose is templated on purpose; this module tests near dedup, not filters
        # (nor PII, which runs after near dedup and changes no fate)
        "--set",
        "filters.enabled=false",
        "--set",
        "pii.enabled=false",
        "--set",
        "bias.enabled=false",
        "--quiet",
        *extra,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("near")
    records, clusters, far = make_corpus(1, "")
    inp = write_jsonl(root / "in" / "part.jsonl", records)
    one = root / "one"
    two = root / "two"
    _run(inp.parent, one)  # component_rounds: auto, so no rounds on this local runner
    # two workers and 12 rounds unrolled: neither changes what is removed
    _run(
        inp.parent,
        two,
        "--set",
        "dedup.near.component_rounds=12",
        "--direct_num_workers",
        "2",
        "--direct_running_mode",
        "multi_processing",
    )
    return {
        "records": records,
        "clusters": clusters,
        "far": far,
        "one": one,
        "two": two,
        "root": root,
    }


def _near_fates(out: Path) -> dict[str, dict]:
    return {r["id"]: r for r in read_parquet_dir(out / "lineage") if r["stage"] == "near_dedup"}


def test_planted_near_duplicates_removed_and_far_pairs_kept(batch):
    texts = {r["id"]: r["text"] for r in batch["records"]}
    fates = _near_fates(batch["one"])
    expected_dups: dict[str, str] = {}
    for members in batch["clusters"].values():
        keeper = min(members, key=lambda m: (-len(texts[m]), m))
        expected_dups |= {m: keeper for m in members if m != keeper}
    assert {i: f["duplicate_of"] for i, f in fates.items()} == expected_dups
    for f in fates.values():
        details = json.loads(f["details"])
        assert f["fate"] == "duplicate" and f["reason"] == "near_duplicate"
        assert details["jaccard_estimate"] >= 0.8
    for members in batch["clusters"].values():
        assert len({fates[m]["cluster_id"] for m in members if m in fates}) == 1
    kept = {r["id"] for r in read_parquet_dir(batch["one"] / "data")}
    assert batch["far"] <= kept
    manifest = load_manifest(batch["one"])
    assert manifest["accounting"]["balanced"]
    assert manifest["counts"]["duplicate"] == len(expected_dups)
    assert manifest["stats"]["near_dedup.duplicates"] == len(expected_dups)
    # 12 rounds converge on these clusters: nothing is left for the finishing union-find
    assert "near_dedup.residual_edges" not in load_manifest(batch["two"])["stats"]


def test_same_duplicates_with_two_workers(batch):
    def view(out):
        return sorted(
            (r["id"], r["fate"], r["duplicate_of"], r["cluster_id"], r["details"])
            for r in read_parquet_dir(out / "lineage")
        )

    assert view(batch["one"]) == view(batch["two"])
    ids = lambda out: sorted(r["id"] for r in read_parquet_dir(out / "index"))  # noqa: E731
    assert ids(batch["one"]) == ids(batch["two"])


def test_index_holds_kept_documents_with_parameters(batch):
    kept = sorted(r["id"] for r in read_parquet_dir(batch["one"] / "data"))
    assert sorted(r["id"] for r in read_parquet_dir(batch["one"] / "index")) == kept
    shard = next((batch["one"] / "index").glob("*.parquet"))
    meta = pq.read_schema(shard).metadata
    params = json.loads(meta[b"thresher.near_dedup"])
    assert params == {
        "bands": 14,
        "ngram": 5,
        "num_perm": 128,
        "rows": 9,
        "seed": 1,
        "shingle": "word",
        "version": 1,
    }


def test_incremental_run_removes_cross_batch_duplicates_and_names_them(batch, tmp_path):
    old = {r["id"]: r["text"] for r in batch["records"]}
    rng = random.Random(99)
    records, clusters, _far = make_corpus(2, "new-")
    records += [
        {"id": "new-x0", "text": substitute(rng, old["u03"], 2)},
        {"id": "new-x1", "text": substitute(rng, old["u07"], 1)},
        {"id": "new-x2", "text": old["u07"] + " One more sentence at the end."},
    ]
    inp = write_jsonl(tmp_path / "in2" / "b.jsonl", records)
    out = tmp_path / "out2"
    _run(inp.parent, out, "--dedup-against", str(batch["one"]))
    fates = _near_fates(out)
    assert fates["new-x0"]["duplicate_of"] == "u03"
    assert fates["new-x1"]["duplicate_of"] == "u07"
    assert fates["new-x2"]["duplicate_of"] == "u07"  # longer, but the old record stays
    assert fates["new-x1"]["cluster_id"] == fates["new-x2"]["cluster_id"]
    internal = {i for i in fates if not i.startswith("new-x")}
    assert internal == {m for ms in clusters.values() for m in ms} - {
        min(ms, key=lambda m: (-len(next(r["text"] for r in records if r["id"] == m)), m))
        for ms in clusters.values()
    }
    index_ids = {r["id"] for r in read_parquet_dir(out / "index")}
    assert index_ids == {r["id"] for r in read_parquet_dir(out / "data")}
    assert not index_ids & set(old)
    story = run_cli("explain", str(out), "new-x0")
    assert story.returncode == 0, story.stderr
    assert f"duplicate of u03 (earlier output {batch['one']}:" in story.stdout

    # Erasure: once u03 is deleted from the earlier index, nothing can match or name it.
    erased = tmp_path / "erased"
    shutil.copytree(batch["one"], erased)
    assert delete_from_index(str(erased), ["u03"]) == 1
    out3 = tmp_path / "out3"
    _run(inp.parent, out3, "--dedup-against", str(erased))
    after = _near_fates(out3)
    assert "new-x0" not in after
    assert after["new-x1"]["duplicate_of"] == "u07"
    assert all(f["duplicate_of"] != "u03" for f in after.values())


# ---------------------------------------------------------------- sample_data

SAMPLE = REPO / "sample_data"


def _sample_texts(ids: set[str]) -> dict[str, str]:
    """The planted records' raw texts, read from the JSONL files under sample_data/web."""
    import gzip
    import io

    import zstandard

    texts: dict[str, str] = {}
    for path in sorted((SAMPLE / "web").glob("*.jsonl*")):
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        elif path.suffix == ".zst":
            raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw)).read()
        for line in raw.decode("utf-8").splitlines():
            rec = json.loads(line) if line.strip() else {}
            if rec.get("id") in ids:
                texts[rec["id"]] = rec["text"]
    return texts


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory):
    if not (SAMPLE / "_planted.json").exists():
        pytest.skip("sample_data/ is not in this checkout")
    root = tmp_path_factory.mktemp("sample")
    runs = {}
    for name, extra in (("default", []), ("loose", ["--set", "dedup.near.threshold=0.6"])):
        out = root / name
        # near dedup decides before the PII stage runs: PII off changes no fate here
        result = run_cli(
            "run",
            "pipelines/default.yaml",
            "--output",
            str(out),
            "--quiet",
            "--set",
            "pii.enabled=false",
            *extra,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        runs[name] = {r["id"]: r for r in read_parquet_dir(out / "lineage")}
    return runs


def test_sample_data_planted_near_duplicates(sample_runs):
    """The planted pairs ("about 3% of words edited") have exact 5-gram Jaccard between about
    0.72 and 0.92, so at the default 0.8 some are rightly below the threshold: every pair
    clearly above it (>= 0.85) must go and every pair clearly below (<= 0.75) must stay; at
    threshold 0.6 every planted pair goes. The 40%-edited pairs stay distinct in both runs."""
    planted = json.loads((SAMPLE / "_planted.json").read_text())
    pairs = [tuple(p) for p in planted["near_duplicate_pairs"]]
    far = [tuple(p) for p in planted["distinct_pairs"]]
    texts = _sample_texts({x for p in pairs + far for x in p})

    def removed_as_pair(lineage, a, b):
        fa, fb = lineage[a], lineage[b]
        return (fa["stage"] == "near_dedup" and fa["duplicate_of"] == b) or (
            fb["stage"] == "near_dedup" and fb["duplicate_of"] == a
        )

    clear = 0
    for a, b in pairs:
        sa, sb = set(shingles(texts[a])), set(shingles(texts[b]))
        exact = len(sa & sb) / len(sa | sb)
        if exact >= 0.85:
            clear += 1
            assert removed_as_pair(sample_runs["default"], a, b), (a, b, exact)
        elif exact <= 0.75:
            assert not removed_as_pair(sample_runs["default"], a, b), (a, b, exact)
        assert removed_as_pair(sample_runs["loose"], a, b), (a, b, exact)
    assert clear >= 1
    for a, b in far:
        for run in sample_runs.values():
            assert run[a]["stage"] != "near_dedup" and run[b]["stage"] != "near_dedup"


def test_dedup_against_with_other_parameters_is_a_usage_error(batch, tmp_path):
    result = run_cli(
        "run",
        "pipelines/default.yaml",
        "--input",
        str(batch["root"] / "in"),
        "--output",
        str(tmp_path / "o"),
        "--dedup-against",
        str(batch["one"]),
        "--set",
        "dedup.near.seed=2",
        "--set",
        "filters.enabled=false",
        "--quiet",
    )
    assert result.returncode == 2
    assert "dedup.near.against" in result.stderr and "seed" in result.stderr
