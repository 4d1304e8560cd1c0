"""The same recipe on other runners: Beam's portable path (as Flink, Spark and Dataflow receive a
job), and graphs built for Dataflow and Flink without submitting them."""

import base64
import bz2
import json
import os
import socket
import subprocess
import sys
import time
import zlib

import apache_beam as beam
import cloudpickle
import pytest
from apache_beam.options.pipeline_options import (
    GoogleCloudOptions,
    PipelineOptions,
    PortableOptions,
    StandardOptions,
    WorkerOptions,
)
from apache_beam.portability.api import beam_runner_api_pb2

from tests.conftest import REPO, run_cli, sorted_rows
from thresher.config import load_config
from thresher.io.read import InputFile
from thresher.pipeline import build_pipeline

GCS = "gs://thresher-demo-bucket"
DATAFLOW_ARGS = [
    "--runner=DataflowRunner",
    "--project=thresher-demo",
    "--region=europe-west1",
    f"--temp_location={GCS}/tmp",
    f"--staging_location={GCS}/staging",
    "--sdk_container_image=europe-docker.pkg.dev/thresher-demo/thresher/worker:0.1.0",
]
FLINK_ARGS = [
    "--runner=FlinkRunner",
    "--flink_master=flink-jobmanager:8081",
    "--environment_type=DOCKER",
    "--environment_config=thresher-worker:0.1.0",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def job_service():
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "apache_beam.runners.portability.local_job_service_main",
            f"--port={port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("Beam's local job service did not start")
    yield f"localhost:{port}"
    proc.terminate()
    proc.wait(timeout=30)


def test_portable_runner_matches_fnapi_record_for_record(tmp_path, job_service):
    ref, port = tmp_path / "fnapi", tmp_path / "portable"
    assert run_cli("run", "--output", str(ref), "--quiet").returncode == 0
    proc = run_cli(
        "run",
        "--output",
        str(port),
        "--quiet",
        "--runner",
        "PortableRunner",
        "--job_endpoint",
        job_service,
        "--environment_type",
        "LOOPBACK",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    for kind in ("data", "lineage", "dead_letter"):
        assert sorted_rows(port, kind) == sorted_rows(ref, kind), kind
    m = json.loads((port / "manifest.json").read_text())
    assert m["runner"] == "PortableRunner" and m["accounting"]["balanced"]


def _dofn_payloads(proto) -> dict[str, bytes]:
    """The pickled user functions of every ParDo, decompressed (Beam stores them as base64 of
    bz2 or zlib)."""
    out = {}
    for t in proto.components.transforms.values():
        if t.spec.urn != "beam:transform:pardo:v1":
            continue
        fn = beam_runner_api_pb2.ParDoPayload.FromString(t.spec.payload).do_fn
        if fn.urn != "beam:dofn:pickled_python_info:v1":
            continue
        raw = base64.b64decode(fn.payload)
        out[t.unique_name] = bz2.decompress(raw) if raw.startswith(b"BZh") else zlib.decompress(raw)
    return out


def _graph(argv):
    # Remote workers cannot read the launcher's key store: the key comes from the workers'
    # environment here (or from pii.key_file on gs://, guarded by IAM).
    os.environ.setdefault("THRESHER_PII_KEY", "0123456789abcdef0123456789abcdef")
    # Benchmark files are read by the launcher when the graph is built (as input.paths are
    # resolved, which this test bypasses with InputFile): a remote recipe names them by URI,
    # which this offline test cannot read, so decontamination is left out of these graphs.
    cfg = load_config(
        REPO / "pipelines/default.yaml",
        [
            f"output.path={GCS}/out",
            "pii.key_env=THRESHER_PII_KEY",
            "decontamination.enabled=false",
        ],
    )
    p = beam.Pipeline(options=PipelineOptions(argv))
    build_pipeline(p, cfg, [InputFile(f"{GCS}/raw/part-000.jsonl.gz", 1000)], f"{GCS}/out/_staging")
    return p


@pytest.mark.parametrize("argv", [DATAFLOW_ARGS, FLINK_ARGS], ids=["dataflow", "flink"])
def test_graph_for_remote_runners_round_trips_without_local_paths(argv):
    p = _graph(argv)
    proto = p.to_runner_api()
    names = [t.unique_name for t in proto.components.transforms.values()]
    assert len(names) == len(set(names))
    for label in (
        "ReadCorpus",
        "Normalize",
        "DropExactDuplicates",
        "WriteDocuments",
        "WriteLineage",
    ):
        assert any(n == label or n.startswith(label + "/") for n in names), label
    again = beam.Pipeline.from_runner_api(proto, p.runner, p._options).to_runner_api()
    assert sorted(t.unique_name for t in again.components.transforms.values()) == sorted(names)
    # Data the workers need (inputs, recipes, lexicons, models) must come from URIs or installed
    # packages, never from the launcher's disk. Code objects name their source files; that is
    # harmless, so only data locations are forbidden.
    # (The checkout itself may live under /tmp or home, so those prefixes alone prove nothing;
    # the user key store would be the launcher-only path most likely to leak in.)
    forbidden = [
        str(REPO / "sample_data").encode(),
        str(REPO / "pipelines").encode(),
        b"/thresher/data/",
        os.environ["XDG_CONFIG_HOME"].encode(),
        os.path.join(os.path.expanduser("~"), ".config", "thresher").encode(),
    ]
    payloads = _dofn_payloads(proto)
    assert len(payloads) > 20
    for name, data in payloads.items():
        for local in forbidden:
            assert local not in data, f"{local!r} is baked into {name}"
        assert cloudpickle.loads(data) is not None  # every user function unpickles


def test_dataflow_options_are_what_dataflow_needs():
    opts = _graph(DATAFLOW_ARGS)._options
    assert opts.view_as(StandardOptions).runner == "DataflowRunner"
    gcp = opts.view_as(GoogleCloudOptions)
    assert (gcp.project, gcp.region, gcp.temp_location) == (
        "thresher-demo",
        "europe-west1",
        f"{GCS}/tmp",
    )
    assert opts.view_as(WorkerOptions).sdk_container_image.endswith("thresher/worker:0.1.0")


def test_flink_options_are_what_flink_needs():
    opts = _graph(FLINK_ARGS)._options
    assert opts.view_as(StandardOptions).runner == "FlinkRunner"
    portable = opts.view_as(PortableOptions)
    assert (portable.environment_type, portable.environment_config) == (
        "DOCKER",
        "thresher-worker:0.1.0",
    )
    from apache_beam.options.pipeline_options import FlinkRunnerOptions

    assert opts.view_as(FlinkRunnerOptions).flink_master == "flink-jobmanager:8081"
