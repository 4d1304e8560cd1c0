"""``report.html``: one self-contained page about a run, rendered from the manifest.

No scripts, no fonts, no network: inline CSS and inline SVG charts only, so the file opens
anywhere (and a headless browser sees no console errors). It shows counts, ids, reasons and
distributions, never document text.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from thresher.core import statkeys
from thresher.output import Manifest, fs, layout, read_manifest
from thresher.paths import published_recipe

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2328;
background:#f6f8fa}
header{background:#0b3d2e;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.85}main{max-width:1100px;margin:0 auto;padding:16px 32px 48px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 20px;margin:16px 0}
h2{font-size:17px;margin:0 0 10px}table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}.muted{color:#656d76}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:16px}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{flex:1;min-width:120px;border:1px solid #d0d7de;
border-radius:6px;padding:8px 12px}.card b{display:block;font-size:20px}
code{font-size:12px;background:#f6f8fa;padding:1px 4px;border-radius:4px}
svg{max-width:100%;height:auto}svg text{font:11px system-ui,sans-serif;fill:#1f2328}
"""
# One colour per meaning in every chart: grey is the input, each fate has its own colour, and
# a measure that is not a fate (seconds, findings, a second duplicate kind) takes one of
# _OTHER, never a fate's colour.
_COLORS = {
    "input": "#8c959f",
    "kept": "#1a7f37",
    "dropped": "#bf8700",
    "duplicate": "#0969da",
    "dead_letter": "#cf222e",
}
_OTHER = ("#8250df", "#54aeff", "#bc4c00", "#1b7c83")
_MEASURE = _OTHER[0]
# duplicate clusters by the stage that found them: both are duplicates (blue family)
_SERIES_COLORS = {**_COLORS, "exact_dedup": "#0969da", "near_dedup": "#54aeff"}


def series_color(name: str, index: int) -> str:
    """The colour of a chart series: its meaning's colour, else one of the other colours."""
    return _SERIES_COLORS.get(name, _OTHER[index % len(_OTHER)])


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _n(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return _e(value)


def table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: set[int] | None = None
) -> str:
    numeric = numeric or set()
    head = "".join(
        f'<th class="{"n" if i in numeric else ""}">{_e(h)}</th>' for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"n" if i in numeric else ""}">{_n(c)}</td>' for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def bar_chart(
    items: Sequence[tuple[str, float]],
    title: str,
    color: str = _MEASURE,
    colors: Sequence[str] | None = None,
    width: int = 480,
) -> str:
    """Horizontal bars, one per (label, value)."""
    if not items:
        return f'<p class="muted">{_e(title)}: no data</p>'
    top = max(v for _, v in items) or 1
    row, label_w = 20, 150
    h = row * len(items) + 24
    bars = []
    for i, (label, value) in enumerate(items):
        y = 20 + i * row
        w = max(1.0, (width - label_w - 70) * value / top)
        c = colors[i] if colors else color
        bars.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{_e(label)[:28]}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{c}" rx="2"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 13}">{_n(value)}</text>'
        )
    return (
        f'<svg role="img" aria-label="{_e(title)}" width="{width}" height="{h}" '
        f'viewBox="0 0 {width} {h}"><text x="0" y="12" font-weight="600">{_e(title)}</text>'
        + "".join(bars)
        + "</svg>"
    )


def histogram(
    series: Mapping[str, Mapping[str, float]],
    title: str,
    width: int = 480,
    label: Any = None,
) -> str:
    """Grouped columns: one group per bucket, one column per series (e.g. input vs kept)."""
    buckets = sorted({b for s in series.values() for b in s})
    if not buckets:
        return f'<p class="muted">{_e(title)}: no data</p>'
    names = list(series)
    palette = [series_color(n, i) for i, n in enumerate(names)]
    top = max((v for s in series.values() for v in s.values()), default=1) or 1
    h, base, left = 200, 160, 30
    gw = (width - left) / len(buckets)
    cw = min(36.0, max(2.0, gw * 0.8 / len(names)))
    parts = [f'<text x="0" y="12" font-weight="600">{_e(title)}</text>']
    for si, name in enumerate(names):
        parts.append(
            f'<rect x="{left + si * 90}" y="20" width="10" height="10" fill="{palette[si]}"/>'
            f'<text x="{left + si * 90 + 14}" y="29">{_e(name)}</text>'
        )
        for bi, b in enumerate(buckets):
            v = series[name].get(b, 0)
            bh = (base - 40) * v / top
            x = left + bi * gw + si * cw
            parts.append(
                f'<rect x="{x:.1f}" y="{base - bh:.1f}" width="{cw:.1f}" height="{bh:.1f}" '
                f'fill="{palette[si]}"><title>{_e(name)} {_e(b)}: {_n(v)}</title></rect>'
            )
    step = max(1, len(buckets) // 8)
    for bi, b in enumerate(buckets):
        if bi % step == 0:
            text = (label or _short)(b)
            parts.append(f'<text x="{left + bi * gw:.1f}" y="{base + 14}">{_e(text)}</text>')
    return (
        f'<svg role="img" aria-label="{_e(title)}" width="{width}" height="{h}" '
        f'viewBox="0 0 {width} {h}">' + "".join(parts) + "</svg>"
    )


def _short(bucket: str) -> str:
    try:
        n = int(bucket)
    except ValueError:
        return bucket
    for unit, size in (("M", 1 << 20), ("K", 1 << 10)):
        if n >= size:
            return f"<{n // size}{unit}"
    return f"<{n}"


def _size_label(bucket: str) -> str:
    n = int(bucket)
    return str(n) if n <= 10 else f"<={n}"


# --- sections -------------------------------------------------------------------------------


def _overview(m: Mapping[str, Any]) -> str:
    c, a, t = m["counts"], m["accounting"], m["timings"]
    status = (
        '<span class="ok">succeeded</span>'
        if m["status"] == "succeeded"
        else (f'<span class="bad">failed</span>: {_e(m.get("failure"))}')
    )
    cards = "".join(
        f'<div class="card"><span class="muted">{k}</span>'
        f'<b style="color:{_COLORS.get(k, "#1f2328")}">'
        f"{_n(c[k])}</b></div>"
        for k in ("input", "kept", "dropped", "duplicate", "dead_letter")
    )
    balanced = (
        '<span class="ok">balanced</span>'
        if a.get("balanced")
        else '<span class="bad">NOT balanced</span>'
    )
    return (
        f"<section><h2>Run</h2><p>Status: {status}. Books: {balanced} "
        f"(<code>{_e(a.get('equation', ''))}</code>: {_n(a.get('input', 0))} = "
        f"{_n(a.get('sum_of_fates', 0))}). Runner <code>{_e(m.get('runner'))}</code>, "
        f"thresher {_e(m.get('thresher_version'))}, "
        f"recipe hash <code>{_e(m['recipe_hash'][:16])}</code>, "
        f"{_n(t.get('pipeline_seconds', 0.0))} s in the pipeline "
        f"({_n(t.get('docs_per_second') or 0.0)} docs/s).</p>"
        f'<div class="cards">{cards}</div></section>'
    )


def _funnel(m: Mapping[str, Any]) -> str:
    items: list[tuple[str, float]] = [("input", m["counts"]["input"])]
    colors = [_COLORS["input"]]
    for row in m.get("stages", []):
        for fate in ("dead_letter", "dropped", "duplicate"):
            if row.get(fate):
                items.append((f"{row['stage']}: {fate.replace('_', ' ')}", row[fate]))
                colors.append(_COLORS[fate])
    items.append(("kept", m["counts"]["kept"]))
    colors.append(_COLORS["kept"])
    rows = [
        (r["stage"], r["in"], r["dropped"], r["duplicate"], r["dead_letter"], r["out"])
        for r in m.get("stages", [])
    ]
    return (
        "<section><h2>Funnel</h2>"
        + bar_chart(items, "records by where they left", colors=colors, width=620)
        + table(
            ["stage", "in", "dropped", "duplicate", "dead letter", "out"], rows, {1, 2, 3, 4, 5}
        )
        + "</section>"
    )


def _reasons(m: Mapping[str, Any]) -> str:
    examples = m.get("examples", {})
    rows = []
    for fate in ("dropped", "duplicate", "dead_letter"):
        for reason, n in sorted(
            m["counts"].get(f"{fate}_by_reason", {}).items(), key=lambda kv: -kv[1]
        ):
            ids = examples.get(f"{fate}:{reason}", [])
            rows.append((fate, reason, n, " ".join(ids)))
    if not rows:
        return "<section><h2>Reasons</h2><p>Every record was kept.</p></section>"
    return (
        '<section><h2>Why records left</h2><p class="muted">Example ids: the first by id; '
        "<code>thresher explain DIR ID</code> tells each one's story.</p>"
        + table(["fate", "reason", "records", "example ids"], rows, {2})
        + "</section>"
    )


def _decontamination(m: Mapping[str, Any]) -> str:
    """Per benchmark: its items found in this corpus (the benchmark's contamination rate) and
    the training records that held them, with example ids (never text)."""
    d = m.get("decontamination")
    if not d:
        return ""
    verb = "dropped" if d.get("action") == "drop" else "kept, annotated"
    benches = d.get("benchmarks", {})
    rows = [
        (
            name,
            b["items"],
            b["items_found"],
            f"{100 * b['contamination_rate']:.2f}%",
            b["records"],
            " ".join(b["example_records"]),
            " ".join(b["example_items"]),
        )
        for name, b in sorted(benches.items())
    ]
    index = d.get("index", {})
    where = (
        "joined with the records' n-grams (no per-worker index)"
        if d.get("method") == "join"
        else f"a side input of {_n(index.get('ngrams', 0))} n-grams, "
        f"{_n(index.get('bytes', 0))} bytes per worker"
    )
    return (
        "<section><h2>Decontamination</h2>"
        f"<p>{_n(d.get('records_checked', 0))} records checked against {len(benches)} "
        f"benchmark(s) with {_e(d.get('ngram'))}-word n-grams (case, whitespace and punctuation "
        f"ignored); {_n(d.get('records_contaminated', 0))} held benchmark items ({verb}). "
        f"Index: {where}.</p>"
        + table(
            [
                "benchmark",
                "items",
                "items found",
                "contamination rate",
                f"records {verb.split(',')[0]}",
                "example records",
                "example items",
            ],
            rows,
            {1, 2, 3, 4},
        )
        + "</section>"
    )


def _distributions(m: Mapping[str, Any]) -> str:
    stats = m.get("stats", {})
    chars = statkeys.series(stats, "chars")
    charts = [histogram(chars, "text length (characters), input vs kept")]
    signals = statkeys.signal_series(stats)
    for name in sorted(signals)[:12]:
        charts.append(histogram(signals[name], f"signal {name}: kept vs dropped"))
    return (
        '<section><h2>Distributions</h2><div class="grid">' + "".join(charts) + "</div></section>"
    )


# the manifest's conversations histograms (thresher.stages.chat_profile): title, bucket label
_CHAT_CHARTS = (
    ("turns", "turns per conversation, input vs kept", _size_label),
    ("response_words", "assistant response length (words), input vs kept", _short),
    ("tokens", "tokens per conversation, kept", _short),
    ("assistant_tokens", "assistant tokens per conversation, kept", _short),
)


def _chat_drops(drops: Mapping[str, Mapping[str, int]]) -> str:
    if not drops:
        return '<p class="muted">No conversation was dropped by a chat rule.</p>'
    roles = sorted({r for by_role in drops.values() for r in by_role})
    rows = [
        (reason, *(by_role.get(r, 0) for r in roles), sum(by_role.values()))
        for reason, by_role in sorted(drops.items())
    ]
    return (
        "<p>Drops by rule and by the role of the turn that decided them "
        "(<code>conversation</code>: a rule on the whole conversation).</p>"
        + table(["rule", *roles, "total"], rows, set(range(1, len(roles) + 2)))
    )


def _conversations(m: Mapping[str, Any]) -> str:
    """Shown only when the run read conversations (the manifest's ``conversations``)."""
    c = m.get("conversations")
    if not c:
        return ""
    hists = c.get("histograms", {})
    charts = [
        histogram(hists[measure], title, label=label)
        for measure, title, label in _CHAT_CHARTS
        if hists.get(measure)
    ]
    return (
        "<section><h2>Conversations</h2>"
        f"<p>{_n(c.get('read', 0))} conversations read, {_n(c.get('kept', 0))} kept.</p>"
        f'<div class="grid">{"".join(charts)}</div>'
        + _chat_drops(c.get("dropped_by_rule", {}))
        + "</section>"
    )


def _clusters_and_languages(m: Mapping[str, Any]) -> str:
    stats = m.get("stats", {})
    parts = []
    clusters = statkeys.series(stats, "cluster_size")
    if clusters:
        parts.append(
            histogram(clusters, "duplicate cluster sizes (records per cluster)", label=_size_label)
        )
    langs = sorted(statkeys.totals(stats, "language").items(), key=lambda kv: -kv[1])
    if langs:
        parts.append(bar_chart(langs[:15], "languages of kept records", _COLORS["kept"]))
    if not parts:
        return ""
    return (
        '<section><h2>Duplicates and languages</h2><div class="grid">'
        + "".join(parts)
        + "</div></section>"
    )


def _timings(m: Mapping[str, Any]) -> str:
    msecs = m.get("timings", {}).get("stage_msecs", {})
    if not msecs:
        return ""
    total = sum(msecs.values()) or 1
    ordered = sorted(msecs.items(), key=lambda kv: (-kv[1], kv[0]))
    items = [(k, v / 1000) for k, v in ordered]
    rows = [(k, v / 1000, f"{100 * v / total:.1f}%") for k, v in ordered]
    return (
        '<section><h2>Stage timings</h2><p class="muted">Processing seconds summed over '
        "workers, from the runner's execution-time metrics (steps are fused, so these add up "
        "to CPU time, not wall "
        'time).</p><div class="grid">'
        + bar_chart(items, "seconds per stage")
        + table(["stage", "seconds", "share"], rows, {1, 2})
        + "</div></section>"
    )


def _pii_roles(roles: Mapping[str, Mapping[str, int]]) -> str:
    """Conversations: findings per turn role and entity type (empty without conversations)."""
    if not roles:
        return ""
    types = sorted({t for counts in roles.values() for t in counts})
    rows = [(role, *(roles[role].get(t, 0) for t in types)) for role in sorted(roles)]
    return "<p>Findings in conversations, by the role of the turn:</p>" + table(
        ["role", *types], rows, set(range(1, len(types) + 1))
    )


def _pii(m: Mapping[str, Any]) -> str:
    p = m.get("pii")
    if not p:
        return (
            '<section><h2>PII</h2><p class="bad">PII anonymization was not part of this run: the '
            "text may hold personal data as it appeared in the sources.</p></section>"
        )
    key = p.get("key", {})
    entities = sorted(p.get("entities", {}).items(), key=lambda kv: -kv[1])
    ops = p.get("operators", {})
    rows = [(e, n, ops.get(e, "")) for e, n in entities]
    parts = [
        "<section><h2>PII</h2>",
        f"<p>{_n(p.get('documents_with_pii', 0))} of {_n(p.get('documents', 0))} kept records "
        f"held PII; {_n(p.get('findings_in_meta', 0))} findings were in metadata fields. Key id "
        f"<code>{_e(key.get('id', ''))}</code> ({_e(key.get('source', ''))}"
        "; the key itself is never written). Findings keep entity type, output span, operator, "
        "score and a keyed hash, never the value.</p>",
        '<div class="grid">',
        bar_chart([(e, n) for e, n in entities], "findings by entity type"),
        table(["entity", "findings", "operator"], rows, {1}),
        "</div>",
        _pii_roles(p.get("roles") or {}),
    ]
    audit = m.get("audit")
    if audit:
        res = audit.get("residual", {})
        anyr = res.get("any", {})
        can = audit.get("canary", {}).get("overall", {})
        parts.append(
            f"<p>Audit: residual PII in {_n(anyr.get('records', 0))} of "
            f"{_n(res.get('records_scanned', 0))} rescanned records (rate {_e(anyr.get('rate'))}, "
            f"95% interval {_e(anyr.get('ci95'))}); canary recall {_e(can.get('recall'))} "
            f"({_n(can.get('caught', 0))} of {_n(can.get('planted', 0))} planted).</p>"
        )
        per_type = sorted(res.get("rate", {}).items())
        parts.append(
            table(
                ["entity", "records with residual", "rate", "95% interval"],
                [(t, v.get("records", 0), v.get("rate"), v.get("ci95")) for t, v in per_type],
                {1},
            )
        )
        review = res.get("review", [])
        if review:
            # ids and offsets only (never text); `thresher audit DIR --show N` prints the
            # spans with context to a terminal
            parts.append(
                "<p>Records to look at (<code>thresher audit DIR --show N</code> prints the "
                "spans with context, to the terminal only):</p>"
                + table(
                    ["record", "field", "entity", "start", "end", "score"],
                    [
                        (
                            r["id"],
                            r.get("field") or "text",
                            r["entity_type"],
                            r["start"],
                            r["end"],
                            r["score"],
                        )
                        for r in review
                    ],
                    {3, 4, 5},
                )
            )
    else:
        parts.append('<p class="muted">No audit yet: run <code>thresher audit DIR</code>.</p>')
    parts.append("</section>")
    return "".join(parts)


def _disparity_verdict(v: Mapping[str, Any], bound: float, min_size: int) -> tuple[str, str]:
    """(ratio cell, verdict) of one filter/group row, by the same rule that flags: a ratio is
    judged only for groups of at least ``min_size`` records reaching the filter."""
    ratio = v.get("ratio")
    if v.get("records", 0) < min_size:
        return "too few", f"not judged: under {min_size} records"
    if ratio is None:
        return "n/a", "nothing removed overall"
    if v.get("flagged"):
        return f"{ratio:.2f}", "FLAGGED"
    if ratio > bound:
        return f"{ratio:.2f}", "above bound, within chance"
    return f"{ratio:.2f}", "within bound"


def _disparity_note(disp: Mapping[str, Any], too_few: int, by_chance: int) -> str:
    bound, min_size = disp.get("bound"), disp.get("min_group_size", 0)
    flagged = disp.get("flagged", [])
    rule = (
        f"A filter/group pair is flagged when the group's removal rate is more than {_e(bound)} "
        f"times the filter's overall rate, at least {_n(min_size)} records of the group reached "
        "the filter, and the difference is credible at "
        f"{_e(round(100 * float(disp.get('confidence') or 0.95)))}% confidence."
    )
    if flagged:
        head = (
            f'<p class="bad">{len(flagged)} filter/group pair(s) flagged: removal ratio above '
            f"{_e(bound)} with enough records and a credible difference.</p>"
        )
    else:
        head = (
            f"<p>No filter removes a group of at least {_n(min_size)} records "
            f"disproportionately (bound {_e(bound)}).</p>"
        )
    notes = []
    if too_few:
        notes.append(
            f"{too_few} row(s) cover fewer than {_n(min_size)} records and are not judged: "
            'their ratio reads "too few".'
        )
    if by_chance:
        notes.append(
            f"{by_chance} row(s) above the bound are within chance (the difference is not "
            "credible)."
        )
    return head + f'<p class="muted">{rule} {" ".join(notes)}</p>'


def _bias_roles(roles: Mapping[str, Mapping[str, Any]]) -> str:
    """Conversations: toxicity and identity terms per turn role (empty without conversations)."""
    if not roles:
        return ""
    groups = sorted({g for v in roles.values() for g in v.get("groups", {})})
    rows = [
        (
            role,
            v.get("turns", 0),
            v.get("toxic_turns", 0),
            f"{100 * (v.get('toxic_share') or 0):.2f}%",
            v.get("toxicity_terms", 0),
            v.get("identity_terms", 0),
            *(f"{100 * (v.get('groups', {}).get(g, {}).get('share') or 0):.1f}%" for g in groups),
        )
        for role, v in sorted(roles.items())
    ]
    head = ["role", "turns", "toxic turns", "toxic share", "toxicity terms", "identity terms"]
    return "<p>Conversations, per turn role (share of turns mentioning each group):</p>" + table(
        [*head, *groups], rows, {1, 2, 4, 5}
    )


def _bias(m: Mapping[str, Any]) -> str:
    b = m.get("bias")
    if not b:
        return ""
    rep = b.get("representation", {})
    groups = sorted(rep.get("groups", {}).items())
    rep_rows = [(g, v.get("records", 0), f"{100 * v.get('share', 0):.1f}%") for g, v in groups]
    disp = b.get("disparity", {})
    bound, min_size = float(disp.get("bound") or 0.0), int(disp.get("min_group_size") or 0)
    rows = []
    for name, f in sorted(disp.get("filters", {}).items()):
        for g, v in sorted(f.get("groups", {}).items()):
            ratio, verdict = _disparity_verdict(v, bound, min_size)
            rows.append(
                (
                    name,
                    f.get("action", ""),
                    g,
                    v.get("records", 0),
                    v.get("removed", 0),
                    f"{100 * (v.get('removal_rate') or 0):.2f}%",
                    f"{100 * (f.get('removal_rate') or 0):.2f}%",
                    ratio,
                    verdict,
                )
            )
    too_few = sum(1 for r in rows if r[7] == "too few")
    by_chance = sum(1 for r in rows if r[8] == "above bound, within chance")
    return (
        "<section><h2>Bias</h2>"
        f"<p>Toxic records: {_n(rep.get('toxic_records', 0))} of {_n(rep.get('records', 0))}.</p>"
        + table(["identity group", "records mentioning", "share"], rep_rows, {1})
        + _bias_roles(b.get("roles") or {})
        + "<h2>Filter disparity</h2>"
        + _disparity_note(disp, too_few, by_chance)
        + table(
            [
                "filter",
                "action",
                "group",
                "group records",
                "removed",
                "group rate",
                "overall rate",
                "ratio",
                "verdict",
            ],
            rows,
            {3, 4},
        )
        + "</section>"
    )


def _cost(m: Mapping[str, Any]) -> str:
    c = m.get("cost") or {}
    if not c.get("available"):
        return ""
    rows = [
        (
            "measured throughput",
            f"{c['docs_per_core_second']:,} docs per core-second ({c['basis']})",
        ),
        ("mean document size", f"{c['mean_doc_bytes']:,} bytes of text"),
        ("worker-hours per million documents", c["worker_hours_per_million_docs"]),
        ("USD per million documents", c["usd_per_million_docs"]),
        ("worker-hours per TB of text", c["worker_hours_per_tb"]),
        ("USD per TB of text", c["usd_per_tb"]),
    ]
    caveat = f'<p class="bad">{_e(c["caveat"])}</p>' if c.get("caveat") else ""
    assumptions = ", ".join(f"{k}={v}" for k, v in sorted(c["assumptions"].items()))
    return (
        "<section><h2>Cost estimate (Dataflow)</h2>"
        + caveat
        + table(["", "value"], rows)
        + f'<p class="muted">Assumptions (recipe <code>cost.*</code>): {_e(assumptions)}.</p>'
        + "</section>"
    )


def _inputs(m: Mapping[str, Any]) -> str:
    rows = [
        (i.get("source") or i["path"], i["size_bytes"], i["records"]) for i in m.get("inputs", [])
    ]
    return (
        "<section><h2>Inputs</h2>"
        + table(["file", "bytes", "records"], rows, {1, 2})
        + "</section>"
    )


def _outputs(m: Mapping[str, Any]) -> str:
    rows = [
        (s["file"], s["rows"], s["bytes"])
        for k in ("data", "lineage", "dead_letter")
        for s in m.get("outputs", {}).get(k, [])
    ]
    return (
        "<section><h2>Output shards</h2>"
        + table(["file", "rows", "bytes"], rows, {1, 2})
        + "</section>"
    )


def _recipe(m: Mapping[str, Any]) -> str:
    return (
        "<section><h2>Recipe</h2><pre>"
        + _e(json.dumps(published_recipe(m["recipe"]), indent=2, sort_keys=True))
        + "</pre></section>"
    )


SECTIONS = [
    _overview,
    _funnel,
    _reasons,
    _decontamination,
    _distributions,
    _conversations,
    _clusters_and_languages,
    _pii,
    _bias,
    _timings,
    _cost,
    _inputs,
    _outputs,
    _recipe,
]


def render(manifest: Mapping[str, Any]) -> str:
    body = "".join(section(manifest) for section in SECTIONS)
    title = f"thresher run report: {published_recipe(manifest['recipe'])['output']['path']}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1>"
        f"<p>{_e(manifest['timings'].get('finished_at', ''))}</p></header>"
        f"<main>{body}</main></body></html>\n"
    )


def write_report(out: str, manifest: Manifest) -> str:
    """Render ``report.html`` from ``manifest`` (as saved) into ``out``, atomically."""
    path = layout.path(out, layout.REPORT)
    return fs.write_text_atomic(path, render(manifest.as_json()))


def rerender(out: str) -> str:
    """Render ``report.html`` and the dataset card again from the saved manifest (``thresher
    report``, and after ``audit``, ``forget`` or ``finetune`` change what they show). Returns
    the report path."""
    from thresher.card import write_card

    manifest = read_manifest(out)
    write_card(out, manifest)
    return write_report(out, manifest)
