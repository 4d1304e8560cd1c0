"""Every command that reads an output goes through Beam's FileSystems, so it takes any Beam
path: here a ``mirror://`` filesystem (a Beam ``FileSystem`` registered by scheme, backed by a
temporary folder) stands in for ``gs://``. A command that used ``pathlib`` or ``open()`` on the
path would fail on it."""

import json
import os
import shutil

import pytest
from apache_beam.io.filesystem import FileMetadata, MatchResult
from apache_beam.io.localfilesystem import LocalFileSystem

from tests.conftest import read_parquet_dir

SCHEME = "mirror://"


class MirrorFileSystem(LocalFileSystem):
    """``mirror://a/b`` is ``ROOT/a/b`` on disk; every path crossing the API is translated."""

    ROOT = ""

    @classmethod
    def scheme(cls):
        return "mirror"

    def _local(self, path):
        # LocalFileSystem's own helpers call back with paths already translated
        if not path.startswith(SCHEME):
            return path
        return os.path.join(self.ROOT, path[len(SCHEME) :])

    def _remote(self, local):
        return SCHEME + os.path.relpath(local, self.ROOT)

    def join(self, basepath, *paths):
        return "/".join([basepath.rstrip("/"), *(p.strip("/") for p in paths)])

    def split(self, path):
        head, _, tail = path.rstrip("/").rpartition("/")
        return head, tail

    def match(self, patterns, limits=None):
        results = super().match([self._local(p) for p in patterns], limits)
        return [
            MatchResult(
                pattern,
                [
                    FileMetadata(self._remote(m.path), m.size_in_bytes, m.last_updated_in_seconds)
                    for m in result.metadata_list
                ],
            )
            for pattern, result in zip(patterns, results, strict=True)
        ]

    def create(self, path, *args, **kwargs):
        os.makedirs(os.path.dirname(self._local(path)), exist_ok=True)
        return super().create(self._local(path), *args, **kwargs)

    def open(self, path, *args, **kwargs):
        return super().open(self._local(path), *args, **kwargs)

    def rename(self, sources, destinations):
        super().rename([self._local(s) for s in sources], [self._local(d) for d in destinations])

    def copy(self, sources, destinations):
        super().copy([self._local(s) for s in sources], [self._local(d) for d in destinations])

    def delete(self, paths):
        for path in paths:
            local = self._local(path)
            if os.path.isdir(local):
                shutil.rmtree(local)
            else:
                os.remove(local)

    def exists(self, path):
        return super().exists(self._local(path))

    def mkdirs(self, path):
        super().mkdirs(self._local(path))

    def size(self, path):
        return super().size(self._local(path))

    def last_updated(self, path):
        return super().last_updated(self._local(path))

    def checksum(self, path):
        return super().checksum(self._local(path))

    def metadata(self, path):
        m = super().metadata(self._local(path))
        return FileMetadata(path, m.size_in_bytes, m.last_updated_in_seconds)


@pytest.fixture
def mirrored(sample_run, tmp_path):
    """The sample output copied under the mirror root; returns (mirror URI, local path)."""
    MirrorFileSystem.ROOT = str(tmp_path)
    shutil.copytree(sample_run[0], tmp_path / "out")
    return SCHEME + "out", tmp_path / "out"


def test_explain_and_report_take_a_beam_path(mirrored, sample_run):
    from thresher.explain import explain
    from thresher.report import rerender

    uri, local = mirrored
    some = read_parquet_dir(local / "lineage")[0]["id"]
    assert explain(uri, some) == explain(str(sample_run[0]), some)
    (local / "report.html").unlink()
    (local / "README.md").unlink()
    assert rerender(uri) == uri + "/report.html"
    assert (local / "report.html").read_text() == (sample_run[0] / "report.html").read_text()
    assert (local / "README.md").exists()


def test_forget_takes_a_beam_path(mirrored):
    from thresher.forget import forget
    from thresher.output import read_manifest

    uri, local = mirrored
    victim = read_parquet_dir(local / "data")[0]["id"]
    receipt = forget(uri, ids=[victim])
    assert receipt["changed"] and victim in receipt["records"]
    assert victim not in {r["id"] for r in read_parquet_dir(local / "data")}
    manifest = read_manifest(uri)
    assert manifest.accounting.balanced and manifest.erasures


def test_audit_takes_a_beam_path(mirrored):
    from thresher.output import read_manifest
    from thresher.pii.audit import audit

    uri, _ = mirrored
    result = audit(uri, sample=10, canaries=3, seed=1)
    assert result["residual"]["records_scanned"] == 10
    assert read_manifest(uri).audit == json.loads(json.dumps(result))


def test_finetune_reads_its_dataset_through_a_beam_path(mirrored, sample_run):
    from thresher.finetune.dataset_io import data_shards, manifest_sha256, read_rows

    uri, _ = mirrored
    rows = [r for shard in data_shards(uri) for r in read_rows(shard)]
    assert len(rows) == len(read_parquet_dir(sample_run[0] / "data"))
    assert manifest_sha256(uri) == manifest_sha256(str(sample_run[0]))
