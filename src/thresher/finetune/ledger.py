"""The privacy ledger: ``DIR/privacy_ledger.json``, one JSON object per training run.

A JSON list, append-only at the level of runs: a run's object is appended before its first
noisy step, never removed or reordered, and frozen once its status is ``completed``. While a
run is in progress its object is rewritten in place, and only ever upward: ``steps`` and
``epsilon`` are the privacy *charged* to the dataset, committed before the steps they cover are
taken (see ``thresher.finetune.train``), so a run killed at any instant leaves a ledger that
shows at least what it spent. ``steps_completed`` is what the last checkpoint holds.

Every write takes an exclusive lock on ``DIR/.privacy_ledger.lock`` and replaces the file
atomically (temporary file, fsync, rename): readers never see a half-written list.

Keys of an entry (at least): ``run_id``, ``status`` (running | interrupted | completed),
``epsilon``, ``delta``, ``unit`` (record | user), ``unit_field``, ``units``, ``model``,
``task``, ``noise_multiplier``, ``max_grad_norm``, ``sampling_rate``, ``steps``,
``steps_completed``, ``steps_planned``, ``accountant``, ``seed``, ``secure_mode``, ``time``,
``updated``, ``dataset_manifest_sha256``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from thresher.errors import InputError, OutputError
from thresher.finetune.dataset_io import LEDGER, ledger_path

__all__ = ["LEDGER", "cumulative", "ledger_path", "read_ledger", "record"]

_LOCK = ".privacy_ledger.lock"
_MONOTONE = ("epsilon", "steps", "delta")


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    try:
        fh = open(directory / _LOCK, "a+")  # noqa: SIM115 - held for the block below
    except OSError as exc:
        raise OutputError(
            f"cannot write the privacy ledger in {str(directory)!r} ({type(exc).__name__}); "
            "the dataset directory must be writable to train on it"
        ) from exc
    with fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def read_ledger(directory: str | Path) -> list[dict[str, Any]]:
    """Every entry, oldest first; ``[]`` when the dataset was never trained on."""
    path = ledger_path(directory)
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(
            f"{str(path)!r} is not valid JSON; restore it from a backup (it is the only record "
            "of the privacy spent on this dataset)"
        ) from exc
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise InputError(f"{str(path)!r} must be a JSON list of objects")
    return data


def _write_atomic(path: Path, entries: list[dict[str, Any]]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".privacy_ledger.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(entries, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def record(directory: str | Path, entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Append ``entry`` or, when its ``run_id`` is already there and still in progress,
    update that run's object in place. Charged numbers never go down; a completed entry is
    never changed (raises ``OutputError``). Returns the ledger as written."""
    directory = Path(directory)
    with _locked(directory):
        entries = read_ledger(directory)
        for i, old in enumerate(entries):
            if old.get("run_id") != entry["run_id"]:
                continue
            if old.get("status") == "completed":
                raise OutputError(
                    f"run {entry['run_id']} is already completed in the privacy ledger; "
                    "a completed run's entry is never changed"
                )
            new = {**old, **entry}
            for key in _MONOTONE:
                if isinstance(old.get(key), int | float) and isinstance(new.get(key), int | float):
                    new[key] = max(old[key], new[key])
            entries[i] = new
            break
        else:
            entries.append(entry)
        _write_atomic(ledger_path(directory), entries)
        return entries


def cumulative(entries: list[dict[str, Any]], dataset_hashes: Collection[str]) -> dict[str, Any]:
    """Privacy charged to one dataset over all runs, by basic composition: epsilons and deltas
    add up. That is an upper bound whatever the mechanisms; tighter composition would need every
    run's accountant history. The dataset is named by its manifest's hash and the hashes of the
    manifests it replaced (``audit``, ``forget`` and ``run --overwrite`` rewrite the manifest;
    the data's people are the same), so a rewrite never hides earlier spending."""
    wanted = set(dataset_hashes)
    same = [e for e in entries if e.get("dataset_manifest_sha256") in wanted]
    return {
        "runs": len(same),
        "epsilon": sum(float(e.get("epsilon") or 0.0) for e in same),
        "delta": sum(float(e.get("delta") or 0.0) for e in same),
        "units": sorted({str(e.get("unit")) for e in same}),
    }
