"""``thresher forget``: erase a data subject from an output directory.

Find every kept record that held a value (through the keyed HMACs of PII values recorded at
anonymization time, so no raw value is ever stored or compared) or that a list of ids names;
rewrite the affected shards without them; remove them from the dedup index; mark them (and the
duplicates they stood for) in lineage; update the manifest counts; write an erasure receipt.

Atomicity: every new file is first written under ``DIR/_erasure_pending/``; a journal marks the
transaction committed; only then are files moved into place. A crash before the commit leaves the
previous state untouched (the pending folder is discarded by the next command); a crash after it
is completed by the next ``thresher forget`` (roll forward), so readers never see a mix for long,
and never lose a committed erasure.

Duplicates of an erased record were never written to ``data/``; they are marked
``dropped``/``erased_duplicate`` in lineage so that no later step can promote one of them as the
cluster's new representative (it would carry the same person).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from thresher.errors import ConfigError, InputError
from thresher.output import Manifest, fs, layout, manifest_sha256, read_manifest
from thresher.output.manifest import Shard
from thresher.paths import join_uri

PENDING = "_erasure_pending"
JOURNAL = "journal.json"
REPLACED_DIRS = ("data", "lineage", "index")


@dataclass
class Plan:
    """What an erasure changes; built without touching the output."""

    request: dict[str, Any]
    erased: set[str] = field(default_factory=set)
    shards: dict[str, int] = field(default_factory=dict)  # data shard -> rows removed
    duplicates: set[str] = field(default_factory=set)
    index_rows: int = 0  # rows of the dedup index that name an erased record
    ledger_runs: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "request": self.request,
            "records": sorted(self.erased),
            "duplicates_marked": sorted(self.duplicates),
            "data_shards_changed": dict(sorted(self.shards.items())),
            "finetune_runs_on_affected_data": self.ledger_runs,
            # every count is an int (0 when nothing matches), never null
            "counts": {
                "records": len(self.erased),
                "duplicates_marked": len(self.duplicates),
                "data_shards": len(self.shards),
                "lineage_rows": len(self.erased) + len(self.duplicates),
                "index_rows": self.index_rows,
            },
        }


def _write_table(table: pa.Table, path: str) -> int:
    """Write ``table`` as zstd Parquet; return the file's size in bytes."""
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf, compression="zstd")
    data = buf.getvalue().to_pybytes()
    with FileSystems.create(path) as fh:
        fh.write(data)
    return len(data)


# --- recovery ------------------------------------------------------------------------------


def recover(out: str) -> str | None:
    """Finish a committed erasure or discard an uncommitted one. Returns what was done."""
    pending = join_uri(out, PENDING)
    if not FileSystems.exists(pending):
        return None
    journal_path = join_uri(pending, JOURNAL)
    if not FileSystems.exists(journal_path):
        FileSystems.delete([pending])
        return "discarded"
    _apply(out, fs.read_json(journal_path))
    FileSystems.delete([pending])
    return "completed"


def _apply(out: str, journal: Mapping[str, Any]) -> None:
    """Move staged files into place (idempotent: safe to repeat after a crash)."""
    pending = join_uri(out, PENDING)
    for kind, names in journal["dirs"].items():
        target = join_uri(out, kind)
        if not FileSystems.exists(target):
            FileSystems.mkdirs(target)
        for name in names:
            src, dst = join_uri(pending, kind, name), join_uri(target, name)
            if FileSystems.exists(src):
                if FileSystems.exists(dst):
                    FileSystems.delete([dst])
                FileSystems.rename([src], [dst])
        keep = {join_uri(target, n) for n in journal["final"][kind]}
        stale = [p for p in fs.files(target, "*.parquet") if p not in keep]
        if stale:
            FileSystems.delete(stale)
    for rel in journal["files"]:
        src, dst = join_uri(pending, rel), join_uri(out, rel)
        if FileSystems.exists(src):
            parent = dst.rsplit("/", 1)[0]
            if not FileSystems.exists(parent):
                FileSystems.mkdirs(parent)
            if FileSystems.exists(dst):
                FileSystems.delete([dst])
            FileSystems.rename([src], [dst])


# --- planning --------------------------------------------------------------------------------


def _keys_for(manifest: Manifest, key_file: str | None) -> Any:
    from thresher.pii.keys import key_source, load_keys, read_key_file

    pii = manifest.pii
    if not pii:
        raise InputError(
            "this output was written without PII anonymization, so no value hashes exist; "
            "use --ids FILE to erase records by id"
        )
    if key_file:
        keys = read_key_file(key_file)
    else:
        cfg = manifest.recipe["pii"]
        keys = load_keys(key_source(cfg.get("key_env"), cfg.get("key_file"), cfg.get("key_store")))
    expected = pii.get("key", {}).get("id")
    if expected and keys.key_id != expected:
        raise ConfigError(
            f"the key given has id {keys.key_id}, but this output was anonymized with key "
            f"{expected}; pass that run's key (--key-file, or the recipe's pii.key_env)"
        )
    return keys


def _value_hashes(keys: Any, value: str, entity: str | None, entities: Iterable[str]) -> set[str]:
    from thresher.pii.operators import value_hmac

    types = [entity] if entity else sorted(set(entities))
    return {value_hmac(keys, t, value) for t in types}


def valid_entities(manifest: Manifest) -> list[str]:
    """The entity types this output's PII stage could have recorded: the recipe's
    ``pii.entities`` and any type the run reports finding."""
    recipe_pii = manifest.recipe.get("pii") or {}
    found = (manifest.pii or {}).get("entities", {})
    return sorted(set(recipe_pii.get("entities") or []) | set(found))


def _check_entity(manifest: Manifest, entity: str | None, value: str | None) -> None:
    if entity is None:
        return
    if value is None:
        raise ConfigError("--entity restricts --value; it has no meaning with --ids")
    valid = valid_entities(manifest)
    if entity not in valid:
        raise ConfigError(
            f"--entity {entity!r} is not an entity type of this output; valid: "
            f"{', '.join(valid) or 'none (the run had no PII stage)'}"
        )


def plan_erasure(
    out: str,
    value: str | None = None,
    entity: str | None = None,
    ids: Iterable[str] = (),
    key_file: str | None = None,
) -> Plan:
    manifest = read_manifest(out)
    _check_entity(manifest, entity, value)
    ids = {i for i in ids if i}
    request: dict[str, Any] = {"entity": entity, "ids": len(ids)}
    if ids:
        request["ids_sha256"] = hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()
    hashes: set[str] = set()
    if value is not None:
        keys = _keys_for(manifest, key_file)
        entities = (manifest.pii or {}).get("entities", {}).keys() or [entity or "PERSON"]
        hashes = _value_hashes(keys, value, entity, entities)
        request["value_hmacs"] = sorted(hashes)  # keyed one-way hashes, never the value
        request["key_id"] = keys.key_id
    plan = Plan(request=request)
    for path in fs.files(join_uri(out, "data"), "*.parquet"):
        table = fs.read_table(path)
        hit = pc.is_in(table["id"], value_set=pa.array(sorted(ids), pa.string()))
        hit_ids = set(table.filter(hit)["id"].to_pylist()) if ids else set()
        if hashes and "pii" in table.column_names:
            for rid, findings in zip(
                table["id"].to_pylist(), table["pii"].to_pylist(), strict=True
            ):
                for f in findings or []:
                    if f.get("value_hmac") in hashes and (
                        entity is None or f["entity_type"] == entity
                    ):
                        hit_ids.add(rid)
                        break
        if hit_ids:
            plan.erased |= hit_ids
            plan.shards[path.rsplit("/", 1)[-1]] = len(hit_ids)
    if plan.erased:
        for path in fs.files(join_uri(out, "lineage"), "*.parquet"):
            t = fs.read_table(path).select(["id", "duplicate_of"])
            dup = pc.is_in(t["duplicate_of"], value_set=pa.array(sorted(plan.erased), pa.string()))
            plan.duplicates |= set(t.filter(dup)["id"].to_pylist())
        erased = pa.array(sorted(plan.erased), pa.string())
        for path in fs.files(join_uri(out, "index"), "*.parquet"):
            hit = pc.is_in(fs.read_table(path)["id"], value_set=erased)
            plan.index_rows += pc.sum(hit).as_py() or 0
        plan.ledger_runs = _ledger_runs(out, manifest)
    return plan


def _ledger_runs(out: str, manifest: Manifest) -> list[dict[str, Any]]:
    path = layout.path(out, layout.LEDGER)
    if not fs.exists(path):
        return []
    ledger = fs.read_json(path)
    hashes = {manifest_sha256(out)} | set(manifest.previous_manifest_hashes or [])
    return [
        {k: r.get(k) for k in ("run_id", "time", "model", "epsilon", "delta", "unit")}
        for r in ledger
        if r.get("dataset_manifest_sha256") in hashes
    ]


# --- execution -------------------------------------------------------------------------------


@dataclass
class _Staged:
    """What one erasure has written under ``_erasure_pending/``: per directory the files to
    move in and the final listing, plus what the receipt and the manifest need."""

    stamp: str
    dirs: dict[str, list[str]] = field(default_factory=dict)
    final: dict[str, list[str]] = field(default_factory=dict)
    data_shards: list[dict[str, Any]] = field(default_factory=list)
    dup_reasons: Counter[str] = field(default_factory=Counter)


def _stage_data(out: str, pending: str, erased: pa.Array, staged: _Staged) -> None:
    """data: drop the erased rows; renumber shards so none is empty."""
    tables = []
    for path in fs.files(join_uri(out, "data"), "*.parquet"):
        t = fs.read_table(path)
        tables.append(t.filter(pc.invert(pc.is_in(t["id"], value_set=erased))))
    tables = [t for t in tables if t.num_rows]
    names = [f"part-{i:05d}-of-{len(tables):05d}.parquet" for i in range(len(tables))]
    fs.mkdirs(join_uri(pending, "data"))
    for t, name in zip(tables, names, strict=True):
        size = _write_table(t, join_uri(pending, "data", name))
        staged.data_shards.append({"file": f"data/{name}", "rows": t.num_rows, "bytes": size})
    staged.dirs["data"], staged.final["data"] = names, names


def _erase_lineage_row(row: dict[str, Any], plan: Plan, staged: _Staged) -> None:
    if row["id"] in plan.erased:
        row.update(fate="dropped", stage="forget", reason="erased")
        row["details"] = json.dumps({"erasure": staged.stamp})
    elif row["id"] in plan.duplicates:
        staged.dup_reasons[row["reason"]] += 1
        row.update(fate="dropped", stage="forget", reason="erased_duplicate")
        row["details"] = json.dumps({"erasure": staged.stamp, "duplicate_of": row["duplicate_of"]})


def _stage_lineage(out: str, pending: str, plan: Plan, staged: _Staged) -> None:
    """lineage: erased records and the duplicates they stood for become dropped."""
    fs.mkdirs(join_uri(pending, "lineage"))
    changed = []
    for path in fs.files(join_uri(out, "lineage"), "*.parquet"):
        t = fs.read_table(path)
        if not (plan.erased | plan.duplicates) & set(t["id"].to_pylist()):
            continue
        rows = t.to_pylist()
        for r in rows:
            _erase_lineage_row(r, plan, staged)
        name = path.rsplit("/", 1)[-1]
        _write_table(
            pa.Table.from_pylist(rows, schema=t.schema), join_uri(pending, "lineage", name)
        )
        changed.append(name)
    staged.dirs["lineage"] = changed
    staged.final["lineage"] = [
        p.rsplit("/", 1)[-1] for p in fs.files(join_uri(out, "lineage"), "*.parquet")
    ]


def _stage_index(out: str, pending: str, erased: pa.Array, staged: _Staged) -> None:
    """index: the erased records can no longer be matched by later incremental runs."""
    index_dir = join_uri(out, "index")
    if not fs.exists(index_dir):
        return
    fs.mkdirs(join_uri(pending, "index"))
    changed = []
    for path in fs.files(index_dir, "*.parquet"):
        t = fs.read_table(path)
        hit = pc.is_in(t["id"], value_set=erased)
        if (pc.sum(hit).as_py() or 0) == 0:
            continue
        name = path.rsplit("/", 1)[-1]
        _write_table(t.filter(pc.invert(hit)), join_uri(pending, "index", name))
        changed.append(name)
    staged.dirs["index"] = changed
    staged.final["index"] = [p.rsplit("/", 1)[-1] for p in fs.files(index_dir, "*.parquet")]


def _erased_counts(manifest: Manifest, plan: Plan, staged: _Staged) -> Manifest:
    """Counts move from kept/duplicate to dropped; the books still balance."""
    c = manifest.counts.model_copy(deep=True)
    n_erased, n_dup = len(plan.erased), len(plan.duplicates)
    c.kept -= n_erased
    c.duplicate -= n_dup
    c.dropped += n_erased + n_dup
    c.dropped_by_reason["erased"] = c.dropped_by_reason.get("erased", 0) + n_erased
    if n_dup:
        c.dropped_by_reason["erased_duplicate"] = (
            c.dropped_by_reason.get("erased_duplicate", 0) + n_dup
        )
        for reason, n in staged.dup_reasons.items():
            left = c.duplicate_by_reason.get(reason, 0) - n
            if left:
                c.duplicate_by_reason[reason] = left
            else:
                c.duplicate_by_reason.pop(reason, None)
    total = c.kept + c.dropped + c.duplicate + c.dead_letter
    accounting = manifest.accounting.model_copy(
        update={"sum_of_fates": total, "balanced": total == c.input}
    )
    outputs = {**manifest.outputs, "data": [Shard(**s) for s in staged.data_shards]}
    return manifest.model_copy(update={"counts": c, "accounting": accounting, "outputs": outputs})


def _commit(out: str, pending: str, staged: _Staged, files: list[str]) -> None:
    journal = {"dirs": staged.dirs, "final": staged.final, "files": files}
    tmp = join_uri(pending, JOURNAL + ".tmp")
    with FileSystems.create(tmp) as fh:
        fh.write(json.dumps(journal).encode())
    FileSystems.rename([tmp], [join_uri(pending, JOURNAL)])  # the commit point
    _apply(out, journal)
    FileSystems.delete([pending])


def forget(
    out: str,
    value: str | None = None,
    entity: str | None = None,
    ids: Iterable[str] = (),
    key_file: str | None = None,
    dry_run: bool = False,
    _crash_after_staging: bool = False,
) -> dict[str, Any]:
    """Erase and return the receipt (or, with ``dry_run``, what would change).

    The result always has three booleans: ``dry_run``; ``would_change`` (some record matched);
    ``changed`` (files were rewritten: never with ``dry_run``). ``counts`` holds records,
    duplicates_marked, data_shards, lineage_rows and index_rows (ints, 0 when nothing matched).
    """
    layout.require_output(out)
    if value is None and not ids:
        raise ConfigError("thresher forget needs --value VALUE or --ids FILE")
    recover(out)
    plan = plan_erasure(out, value, entity, ids, key_file)
    summary = plan.summary()
    if dry_run or not plan.erased:
        return {
            "dry_run": dry_run,
            "would_change": bool(plan.erased),
            "changed": False,
            **summary,
        }

    staged = _Staged(stamp=datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ"))
    pending = join_uri(out, PENDING)
    fs.mkdirs(pending)
    previous_hash = manifest_sha256(out)
    erased = pa.array(sorted(plan.erased), pa.string())
    _stage_data(out, pending, erased, staged)
    _stage_lineage(out, pending, plan, staged)
    _stage_index(out, pending, erased, staged)

    receipt_rel = f"{layout.ERASURES}/{staged.stamp}.json"
    manifest = _erased_counts(read_manifest(out), plan, staged)
    manifest = manifest.model_copy(
        update={
            "erasures": [
                *(manifest.erasures or []),
                {
                    "receipt": receipt_rel,
                    "records": len(plan.erased),
                    "duplicates_marked": len(plan.duplicates),
                },
            ],
            "previous_manifest_hashes": [*(manifest.previous_manifest_hashes or []), previous_hash],
        }
    )
    receipt = {
        "time": staged.stamp,
        **summary,
        "lineage_shards_changed": staged.dirs["lineage"],
        "index_shards_changed": staged.dirs.get("index", []),
        "manifest_sha256_before": previous_hash,
    }
    with FileSystems.create(join_uri(pending, layout.MANIFEST)) as fh:
        fh.write(manifest.to_bytes())
    fs.mkdirs(join_uri(pending, layout.ERASURES))
    with FileSystems.create(join_uri(pending, receipt_rel)) as fh:
        fh.write(fs.json_bytes(receipt))
    if _crash_after_staging:  # tests: a crash before the commit point
        raise RuntimeError("simulated crash before commit")
    _commit(out, pending, staged, [layout.MANIFEST, receipt_rel])
    from thresher.report import rerender

    rerender(out)
    return {
        "dry_run": False,
        "would_change": True,
        "changed": True,
        "receipt": receipt_rel,
        **receipt,
    }


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _id_list(ids: list[str], limit: int = 10) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (
        f", ... ({len(ids) - limit:,} more; --json lists all)" if len(ids) > limit else ""
    )


def render(result: Mapping[str, Any]) -> str:
    """The result of :func:`forget` for a person: what matched and what changes (or would)."""
    c = result["counts"]
    if not result["would_change"]:
        return "no kept record matches the request; nothing " + (
            "would change." if result["dry_run"] else "was changed."
        )
    verb = "would be" if result["dry_run"] else "were"
    lines = [
        "dry run: nothing was changed." if result["dry_run"] else "erasure committed.",
        f"records {verb} erased: {c['records']:,} ({_id_list(result['records'])})",
        f"duplicates of them {verb} marked dropped: {c['duplicates_marked']:,}"
        + (f" ({_id_list(result['duplicates_marked'])})" if c["duplicates_marked"] else ""),
        f"data shards {verb} rewritten: {c['data_shards']:,} ("
        + "; ".join(
            f"{k}: {_plural(n, 'row')} out" for k, n in result["data_shards_changed"].items()
        )
        + ")",
        f"lineage rows {verb} set to dropped: {c['lineage_rows']:,}",
        f"index rows {verb} removed: {c['index_rows']:,}",
    ]
    runs = result["finetune_runs_on_affected_data"]
    if runs:
        lines.append(
            f"{_plural(len(runs), 'fine-tune run')} trained on data holding these records "
            "(privacy_ledger.json); erasing records does not change those models"
        )
    if result["dry_run"]:
        lines.append("run again without --dry-run to erase.")
    else:
        lines.append(f"receipt: {result['receipt']}")
    return "\n".join(lines)


def read_ids(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            return [line.strip() for line in fh if line.strip()]
    except OSError as exc:
        raise InputError(f"--ids {path!r} cannot be read ({type(exc).__name__})") from exc
