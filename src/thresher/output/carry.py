"""What survives ``thresher run --overwrite`` over an earlier output.

Two records must outlive the data they describe:

- ``privacy_ledger.json``: the differential-privacy budget already spent on this data by
  ``thresher finetune``. Losing it would let the next fine-tune under-count epsilon. It stays in
  place, and the new manifest lists the earlier manifests' hashes (``previous_manifest_hashes``),
  so the ledger's entries still count against the new data.
- ``erasure/`` receipts of ``thresher forget``: they stay, the new manifest lists them under
  ``erasures``, and the rerun drops every record they name (``ApplyErasures``), so an erased
  person does not come back when the same input is curated again.

Everything else (data, lineage, dead letters, index, manifest, report, card) is replaced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thresher.output import fs, layout

KEPT = (layout.LEDGER, layout.ERASURES)


@dataclass(frozen=True)
class Carried:
    """The earlier output's records that the new one keeps."""

    previous_hashes: tuple[str, ...] = ()
    erasures: tuple[dict[str, Any], ...] = ()
    # record id -> (reason, receipt stamp)
    erased: dict[str, tuple[str, str]] = field(default_factory=dict)

    def manifest_fields(self) -> dict[str, Any]:
        """The new manifest's fields that point back at what was carried over."""
        fields: dict[str, Any] = {}
        if self.previous_hashes:
            fields["previous_manifest_hashes"] = list(self.previous_hashes)
        if self.erasures:
            fields["erasures"] = list(self.erasures)
        return fields


def _receipt_ids(receipt: dict[str, Any]) -> dict[str, tuple[str, str]]:
    stamp = str(receipt.get("time", ""))
    ids = {rid: ("erased_duplicate", stamp) for rid in receipt.get("duplicates_marked", [])}
    ids.update({rid: ("erased", stamp) for rid in receipt.get("records", [])})
    return ids


def collect(out: str) -> Carried:
    """Read what ``out`` carries into a rerun (nothing when it is not a thresher output)."""
    if not fs.exists(out):
        return Carried()
    hashes: list[str] = []
    if layout.is_output(out):
        from thresher.output.manifest import manifest_sha256, read_manifest

        old = read_manifest(out)
        hashes = [*(old.previous_manifest_hashes or []), manifest_sha256(out)]
    erased: dict[str, tuple[str, str]] = {}
    entries: list[dict[str, Any]] = []
    for path in fs.files(layout.path(out, layout.ERASURES), "*.json"):
        receipt = fs.read_json(path)
        erased.update(_receipt_ids(receipt))
        entries.append(
            {
                "receipt": f"{layout.ERASURES}/{path.rsplit('/', 1)[-1]}",
                "records": len(receipt.get("records", [])),
                "duplicates_marked": len(receipt.get("duplicates_marked", [])),
            }
        )
    return Carried(tuple(hashes), tuple(entries), erased)
