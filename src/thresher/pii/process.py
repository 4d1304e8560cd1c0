"""Anonymize records: text (or every turn of a conversation) and metadata fields, batch by
batch (no Beam here).

``PiiProcessor.process(docs)`` returns new ``Document``s whose text, turns and meta carry no
detected PII, each with its findings (``Document.pii``), plus per-batch counters. A
conversation is the unit of consistency: a name found in one turn is looked for in every turn,
and ``hash``/``surrogate`` (pure functions of key, type and value) replace a value the same way
in every turn. Field policies
(``pii.fields`` per top-level meta key, else ``pii.default_field_policy``):

- ``scan``: strings (and numbers, as text) anywhere inside the field are analyzed and
  anonymized like the text; a value with nothing found keeps its type;
- ``hash``: the whole value becomes a keyed pseudonym (hex HMAC-SHA256 of its canonical JSON),
  so records still group by it (e.g. the privacy unit for user-level DP);
- ``drop``: the field is removed;
- ``keep``: passed through unexamined (an explicit opt-out).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from thresher.config import PiiConfig
from thresher.pii.analyzer import PiiAnalyzer
from thresher.pii.keys import PiiKeys
from thresher.pii.operators import Anonymizer
from thresher.records import Document, PiiFinding, with_segment_texts

_Path = tuple[str | int, ...]
TURN_FIELD = "messages."


def field_name(path: _Path) -> str:
    return "meta." + ".".join(str(p) for p in path)


def turn_field(turn: int) -> str:
    """``PiiFinding.field`` of a finding in turn ``turn`` of a conversation."""
    return f"{TURN_FIELD}{turn}"


def turn_index(field: str | None) -> int | None:
    """The turn a finding's ``field`` names (``messages.3`` -> 3), else None (text, meta)."""
    if field is None or not field.startswith(TURN_FIELD):
        return None
    return int(field[len(TURN_FIELD) :])


def scan_leaves(value: Any, path: _Path = ()) -> Iterator[tuple[_Path, Any]]:
    """Every leaf under ``value`` with its path, except None and booleans: strings, numbers,
    and anything else (dates, bytes, decimals from Parquet inputs) scanned as its text."""
    if isinstance(value, Mapping):
        for k in sorted(value, key=str):
            yield from scan_leaves(value[k], (*path, str(k)))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from scan_leaves(v, (*path, i))
    elif value is not None and not isinstance(value, bool):
        yield path, value


def set_at(value: Any, path: _Path, new: Any) -> Any:
    """A copy of ``value`` with the leaf at ``path`` replaced (containers copied on the way)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, Mapping):
        out = dict(value)
        out[str(head)] = set_at(value[str(head)], rest, new)
        return out
    seq = list(value)
    seq[int(head)] = set_at(seq[int(head)], rest, new)
    return seq


def pseudonym(keys: PiiKeys, value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hmac.new(keys.pseudonym_key, canonical.encode(), hashlib.sha256).hexdigest()[:32]


# Analyzers built ahead of their processor (``prebuild``), by (config as JSON, fast), and how
# many processors of this process took one.
_PREBUILT: dict[tuple[str, bool], PiiAnalyzer] = {}
PREBUILT_TAKEN = 0


def prebuild(cfg: PiiConfig, *, fast: bool = True) -> None:
    """Build the analyzer a ``PiiProcessor(cfg, ...)`` will need, ahead of it: a warm server
    (``thresher.warm``) does this once before it forks the workers. The first processor built
    with an equal config takes it; an analyzer holds no key material."""
    _PREBUILT[(cfg.model_dump_json(), fast)] = PiiAnalyzer(cfg, fast=fast)


def _analyzer(cfg: PiiConfig, fast: bool) -> PiiAnalyzer:
    global PREBUILT_TAKEN
    prebuilt = _PREBUILT.pop((cfg.model_dump_json(), fast), None)
    if prebuilt is None:
        return PiiAnalyzer(cfg, fast=fast)
    PREBUILT_TAKEN += 1
    return prebuilt


class PiiProcessor:
    """Detection plus replacement for whole documents; build once per worker."""

    def __init__(self, cfg: PiiConfig, keys: PiiKeys, *, fast: bool = True) -> None:
        self.cfg = cfg
        self.keys = keys
        self.analyzer = _analyzer(cfg, fast)
        self.anonymizer = Anonymizer(cfg, keys)

    def policy(self, field: str) -> str:
        return self.cfg.fields.get(field, self.cfg.default_field_policy)

    def process(self, docs: Sequence[Document]) -> tuple[list[Document], Counter[str]]:
        """Anonymized copies of ``docs`` (same order) and counters for the manifest.

        A conversation is analyzed turn by turn (every role), its turns one unit of mention
        propagation, and rebuilt with ``with_segment_texts`` (its ``text`` view follows);
        its findings name their turn (``messages.<i>``, offsets in that turn's output). The
        derived ``text`` is never analyzed. A document is the same path with one segment."""
        before = dict(self.analyzer.stats)
        bodies = [[seg.text for seg in doc.segments()] for doc in docs]
        leaves = [(i, path, text) for i, doc in enumerate(docs) for path, text in self._leaves(doc)]
        detections = self.analyzer.analyze_groups([*bodies, *([text] for _, _, text in leaves)])

        metas: dict[int, Any] = {i: dict(doc.meta) for i, doc in enumerate(docs)}
        findings: dict[int, list[PiiFinding]] = {i: [] for i in range(len(docs))}
        texts: dict[int, list[str]] = {}
        for i, doc in enumerate(docs):
            texts[i] = []
            for seg, dets in zip(doc.segments(), detections[i], strict=True):
                field = None if seg.turn is None else turn_field(seg.turn)
                new_text, found = self.anonymizer.anonymize(seg.text, dets, field)
                texts[i].append(new_text)
                findings[i].extend(found)
        for (i, path, text), (dets,) in zip(leaves, detections[len(docs) :], strict=True):
            new_text, found = self.anonymizer.anonymize(text, dets, field_name(path))
            findings[i].extend(found)
            if found:
                metas[i] = set_at(metas[i], path, new_text)
        stats: Counter[str] = Counter()
        out = []
        for i, doc in enumerate(docs):
            meta = self._apply_field_policies(doc.meta, metas[i], stats)
            _count_findings(doc, findings[i], stats)
            out.append(with_segment_texts(doc, texts[i], meta=meta, pii=tuple(findings[i])))
        for k, v in self.analyzer.stats.items():
            stats[f"pii.{k}"] += v - before.get(k, 0)
        return out, stats

    def _leaves(self, doc: Document) -> Iterator[tuple[_Path, str]]:
        """Every leaf of the ``scan`` meta fields of ``doc``, as text, with its path."""
        for key in sorted(doc.meta, key=str):
            if self.policy(str(key)) != "scan":
                continue
            for path, value in scan_leaves(doc.meta[key], (str(key),)):
                text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                yield path, str(text)

    def _apply_field_policies(
        self, original: Mapping[str, Any], meta: dict[str, Any], stats: Counter[str]
    ) -> dict[str, Any]:
        """``meta`` (already scanned) with ``drop`` fields removed and ``hash`` fields replaced
        by the pseudonym of their ``original`` value; counted in ``stats``."""
        for key in sorted(original, key=str):
            policy = self.policy(str(key))
            if policy == "drop":
                del meta[key]
                stats["pii.fields_dropped"] += 1
            elif policy == "hash":
                meta[key] = pseudonym(self.keys, original[key])
                stats["pii.fields_hashed"] += 1
        return meta


def _count_findings(doc: Document, findings: Sequence[PiiFinding], stats: Counter[str]) -> None:
    """Count one record's findings (by type, by operator, in meta, by role for a
    conversation's turns) in ``stats``."""
    for f in findings:
        stats[f"pii.entity.{f.entity_type}"] += 1
        stats[f"pii.operator.{f.operator}"] += 1
        turn = turn_index(f.field)
        if turn is not None:
            stats[f"pii.role.{doc.messages[turn].role}.{f.entity_type}"] += 1
        elif f.field is not None:
            stats["pii.in_meta"] += 1
    stats["pii.documents"] += 1
    stats["pii.documents_with_pii"] += bool(findings)
