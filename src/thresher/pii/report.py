"""The manifest's ``pii`` section, built from the stage's summed stats (numbers only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from thresher.config import PiiConfig
from thresher.pii.keys import key_source, load_keys


def manifest_section(cfg: PiiConfig, stats: Mapping[str, float]) -> dict[str, Any]:
    """Counts by entity type and operator, documents scanned and with PII, the operator per
    type and the key's public id (never the key, never the key file's contents). A run with
    conversations adds ``roles``: findings by role of the turn and entity type (``documents``
    counts every record, conversations included)."""

    def under(prefix: str) -> dict[str, int]:
        return {k[len(prefix) :]: int(v) for k, v in sorted(stats.items()) if k.startswith(prefix)}

    source = key_source(cfg.key_env, cfg.key_file, cfg.key_store)
    section = {
        "documents": int(stats.get("pii.documents", 0)),
        "documents_with_pii": int(stats.get("pii.documents_with_pii", 0)),
        "findings_in_meta": int(stats.get("pii.in_meta", 0)),
        "entities": under("pii.entity."),
        "operators_applied": under("pii.operator."),
        "operators": {e: (cfg.operators.get(e) or cfg.default_operator).type for e in cfg.entities},
        "fields": {
            "default": cfg.default_field_policy,
            **dict(sorted(cfg.fields.items())),
            "hashed": int(stats.get("pii.fields_hashed", 0)),
            "dropped": int(stats.get("pii.fields_dropped", 0)),
        },
        "segments": {
            "analyzed": int(stats.get("pii.segments", 0)),
            "from_cache": int(stats.get("pii.segments_cached", 0)),
            "with_ner": int(stats.get("pii.segments_ner", 0)),
        },
        "key": {"id": load_keys(source).key_id, "source": source.kind},
    }
    roles: dict[str, dict[str, int]] = {}
    for key, n in under("pii.role.").items():  # "<role>.<ENTITY>"; roles hold no dot
        role, entity = key.split(".", 1)
        roles.setdefault(role, {})[entity] = n
    if roles:  # only runs with conversations: a document run's section is unchanged
        section["roles"] = roles
    return section
