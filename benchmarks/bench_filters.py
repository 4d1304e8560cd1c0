"""Agreement and throughput: thresher's quality rule sets against datatrove's, same corpus,
same thresholds, same process.

For each rule set (Gopher quality, Gopher repetition, C4, FineWeb) and for the chain of all
four (in FineWeb's order, C4 rewriting the text for FineWeb), both implementations decide
keep/drop for every document of a generated mixed-quality corpus
(``benchmarks.corpus.mixed_quality_corpus``). Printed per rule set: the confusion matrix,
Cohen's kappa, agreement on the drop reason where both drop, agreement of C4's rewritten text
where both keep, the disagreements by document kind and reason pair, and documents per second
of each implementation with the ratio (thresher / datatrove; > 1 means thresher is faster).

datatrove is a peer, never a thresher dependency: run this from a separate venv, from the
repository root::

    python3 -m venv /tmp/dtbench
    /tmp/dtbench/bin/pip install datatrove orjson regex "spacy>=3.8,<3.9" pydantic pyyaml
    PYTHONPATH=src /tmp/dtbench/bin/python -m benchmarks.bench_filters --docs 3000

(datatrove's English word tokenizer is spaCy's blank ``en`` pipeline, hence spaCy; thresher's
core needs only pydantic and PyYAML.)
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.corpus import mixed_quality_corpus
from thresher.config import (
    C4FilterConfig,
    FiltersConfig,
    FineWebFilterConfig,
    GopherQualityConfig,
    GopherRepetitionConfig,
    LanguageFilterConfig,
    LengthFilterConfig,
)
from thresher.core import quality

RULE_SETS = (
    "gopher_quality",
    "gopher_quality_anycase",
    "gopher_repetition",
    "c4",
    "fineweb",
    "chain",
)
LANGUAGE_CHAINS = (
    "language+chain (cascade)",
    "language+chain (lingua)",
    "language+chain (fasttext)",
)

_DT_REASONS = {
    "gopher_short_doc": "gopher_word_count_low",
    "gopher_long_doc": "gopher_word_count_high",
    "gopher_below_avg_threshold": "gopher_mean_word_length_low",
    "gopher_above_avg_threshold": "gopher_mean_word_length_high",
    "gopher_too_many_hashes": "gopher_hash_ratio",
    "gopher_too_many_ellipsis": "gopher_ellipsis_ratio",
    "gopher_too_many_bullets": "gopher_bullet_lines",
    "gopher_too_many_end_ellipsis": "gopher_ellipsis_lines",
    "gopher_below_alpha_threshold": "gopher_alpha_words",
    "gopher_enough_stop_words": "gopher_stop_words",
    "empty": "empty",
    "lorem_ipsum": "c4_lorem_ipsum",
    "curly_bracket": "c4_curly_bracket",
    "too_few_sentences": "c4_too_few_sentences",
    "line_punct_ratio": "fineweb_line_punct_ratio",
    "short_line_ratio": "fineweb_short_line_ratio",
    "char_dup_ratio": "fineweb_char_dup_ratio",
    "list_ratio": "fineweb_list_ratio",
}


def dt_reason(reason: str) -> str:
    if reason in _DT_REASONS:
        return _DT_REASONS[reason]
    if reason.startswith("duplicated_"):  # duplicated_5_n_grams
        return f"gopher_dup_{reason.split('_')[1]}_gram"
    if reason.startswith("top_"):  # top_2_gram
        return f"gopher_{reason}"
    return f"gopher_{reason}"  # dup_para_frac, dup_line_char_frac, ...


def ours_reason(reason: str | None) -> str | None:
    if reason in ("gopher_empty", "fineweb_empty"):
        return "empty"
    return reason


def datatrove_filters(cfg: FiltersConfig) -> dict[str, Any]:
    """datatrove's filters with thresher's thresholds (the papers' values)."""
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    gq, gr, c4, fw = cfg.gopher_quality, cfg.gopher_repetition, cfg.c4, cfg.fineweb
    return {
        "gopher_quality": GopherQualityFilter(
            min_doc_words=gq.min_doc_words,
            max_doc_words=gq.max_doc_words,
            min_avg_word_length=gq.min_avg_word_length,
            max_avg_word_length=gq.max_avg_word_length,
            max_symbol_word_ratio=gq.max_symbol_word_ratio,
            max_bullet_lines_ratio=gq.max_bullet_lines_ratio,
            max_ellipsis_lines_ratio=gq.max_ellipsis_lines_ratio,
            max_non_alpha_words_ratio=gq.min_alpha_words_ratio,
            min_stop_words=gq.min_stop_words,
            stop_words=list(gq.stop_words),
        ),
        "gopher_repetition": GopherRepetitionFilter(
            dup_line_frac=gr.dup_line_frac,
            dup_para_frac=gr.dup_para_frac,
            dup_line_char_frac=gr.dup_line_char_frac,
            dup_para_char_frac=gr.dup_para_char_frac,
            top_n_grams=tuple(gr.top_ngram_char_frac.items()),
            dup_n_grams=tuple(gr.dup_ngram_char_frac.items()),
        ),
        "c4": C4QualityFilter(
            split_paragraph=True,
            remove_citations=c4.remove_citations,
            filter_no_terminal_punct=c4.filter_no_terminal_punct,
            min_num_sentences=c4.min_sentences,
            min_words_per_line=c4.min_words_per_line,
            max_word_length=c4.max_word_length,
            filter_lorem_ipsum=c4.filter_lorem_ipsum,
            filter_javascript=c4.filter_javascript,
            filter_curly_bracket=c4.filter_curly_bracket,
            filter_policy=c4.filter_policy,
        ),
        "fineweb": FineWebQualityFilter(
            line_punct_thr=fw.line_punct_thr,
            line_punct_exclude_zero=fw.line_punct_exclude_zero,
            short_line_thr=fw.short_line_thr,
            short_line_length=fw.short_line_length,
            char_duplicates_ratio=fw.char_duplicates_ratio,
            new_line_ratio=fw.new_line_ratio,
        ),
    }


Decision = tuple[bool, str | None, str | None]  # keep, reason, rewritten text (C4)


def _language_then_chain(cfg: FiltersConfig, backend: str) -> Callable[[str], Decision]:
    from thresher.core.language import cached_detector

    detector = cached_detector(True, backend)  # type: ignore[arg-type]
    lang = cfg.language

    def decide(text: str) -> Decision:
        code, score = detector.identify(text, lang.max_chars)
        if code not in lang.languages or score < lang.min_confidence:
            return False, "language", text
        d = quality.evaluate(text, cfg).decision
        return d.keep, ours_reason(d.reason), d.text if d.text is not None else text

    return decide


def run_ours(name: str, texts: list[str], cfg: FiltersConfig) -> list[Decision]:
    if name in LANGUAGE_CHAINS:
        decide = _language_then_chain(cfg, name.split("(")[1].rstrip(")"))
        return [decide(t) for t in texts]
    anycase = cfg.gopher_quality.model_copy(update={"stop_words_case_sensitive": False})
    fns: dict[str, Callable[[str], quality.KeepDecision]] = {
        "gopher_quality": lambda t: quality.gopher_quality(t, cfg.gopher_quality),
        # thresher's default: stop words in any case (datatrove: case-sensitive)
        "gopher_quality_anycase": lambda t: quality.gopher_quality(t, anycase),
        "gopher_repetition": lambda t: quality.gopher_repetition(t, cfg.gopher_repetition),
        "c4": lambda t: quality.c4(t, cfg.c4),
        "fineweb": lambda t: quality.fineweb(t, cfg.fineweb),
        "chain": lambda t: quality.evaluate(t, cfg).decision,
    }
    fn = fns[name]
    out = []
    for t in texts:
        d = fn(t)
        out.append((d.keep, ours_reason(d.reason), d.text if d.text is not None else t))
    return out


def _lid176_for_datatrove() -> None:
    """Put thresher's lid.176.ftz where datatrove's FT176LID looks for lid.176.bin."""
    import shutil

    from datatrove.io import cached_assets_path, strip_protocol
    from datatrove.utils.lid import FT176LID

    from thresher.core.language import fasttext_model_path

    folder = cached_assets_path(library_name="datatrove", namespace="lid", subfolder="ft176")
    target = Path(folder, strip_protocol(FT176LID.MODEL_URL).replace("/", "_"))
    if not Path(f"{target}.completed").exists():
        shutil.copyfile(fasttext_model_path(), target)
        Path(f"{target}.completed").touch()


def run_datatrove(name: str, texts: list[str], filters: dict[str, Any]) -> list[Decision]:
    from datatrove.data import Document

    chain = [
        filters["gopher_repetition"],
        filters["gopher_quality"],
        filters["c4"],
        filters["fineweb"],
    ]
    if name == "chain":
        steps = chain
    elif name == "language+chain":
        steps = [filters["language"], *chain]
    else:
        steps = [filters[name.removesuffix("_anycase")]]
    docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
    out: list[Decision] = []
    for doc in docs:
        keep, reason = True, None
        for step in steps:
            res = step.filter(doc)
            if res is not True:
                keep = False
                language = step is filters.get("language")
                reason = (
                    "language"
                    if language
                    else dt_reason(res[1] if isinstance(res, tuple) else "dropped")
                )
                break
        out.append((keep, reason, doc.text))
    return out


def timed(fn: Callable[[], list[Decision]], repeat: int) -> tuple[list[Decision], float]:
    best = float("inf")
    result: list[Decision] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return result, best


def kappa(ours: list[bool], theirs: list[bool]) -> tuple[float, dict[str, int]]:
    """Cohen's kappa of two binary keep/drop labelings, and the confusion matrix."""
    m = Counter(zip(ours, theirs, strict=True))
    matrix = {
        "both_keep": m[(True, True)],
        "both_drop": m[(False, False)],
        "ours_keep_dt_drop": m[(True, False)],
        "ours_drop_dt_keep": m[(False, True)],
    }
    n = len(ours)
    po = (matrix["both_keep"] + matrix["both_drop"]) / n
    ours_keep = sum(ours) / n
    dt_keep = sum(theirs) / n
    pe = ours_keep * dt_keep + (1 - ours_keep) * (1 - dt_keep)
    k = 1.0 if pe == 1 else (po - pe) / (1 - pe)
    return k, matrix


def compare(name, kinds, ours: list[Decision], dt: list[Decision]) -> dict[str, Any]:
    k, matrix = kappa([o[0] for o in ours], [d[0] for d in dt])
    both_drop = [(o[1], d[1]) for o, d in zip(ours, dt, strict=True) if not o[0] and not d[0]]
    same_reason = sum(1 for a, b in both_drop if a == b)
    both_keep = [(o[2], d[2]) for o, d in zip(ours, dt, strict=True) if o[0] and d[0]]
    # the same words in order: thresher's C4 keeps a blank line between kept paragraphs,
    # datatrove joins every kept line with one newline
    same_text = sum(1 for a, b in both_keep if a.split() == b.split())
    disagreements = Counter(
        (kind, o[1] or "keep", d[1] or "keep")
        for kind, o, d in zip(kinds, ours, dt, strict=True)
        if o[0] != d[0]
    )
    reason_pairs = Counter((a, b) for a, b in both_drop if a != b)
    return {
        "rule_set": name,
        "kappa": round(k, 4),
        "confusion": matrix,
        "reason_agreement": round(same_reason / len(both_drop), 4) if both_drop else None,
        "text_agreement": round(same_text / len(both_keep), 4) if both_keep else None,
        "disagreements": [
            {"kind": a, "ours": b, "datatrove": c, "n": n}
            for (a, b, c), n in disagreements.most_common(12)
        ],
        "reason_mismatches": [
            {"ours": a, "datatrove": b, "n": n} for (a, b), n in reason_pairs.most_common(8)
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=2, help="timing runs; the best is kept")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument(
        "--language", action="store_true", help="also language + chain rows (see the docstring)"
    )
    args = ap.parse_args()

    corpus = mixed_quality_corpus(args.docs, args.seed)
    texts = [d["text"] for d in corpus]
    kinds = [d["kind"] for d in corpus]
    cfg = FiltersConfig(
        length=LengthFilterConfig(enabled=False),
        language=LanguageFilterConfig(enabled=False),
        # datatrove matches stop words case-sensitively; compare like with like (the
        # gopher_quality_anycase row shows what thresher's default changes)
        gopher_quality=GopherQualityConfig(stop_words_case_sensitive=True),
        gopher_repetition=GopherRepetitionConfig(),
        c4=C4FilterConfig(),
        fineweb=FineWebFilterConfig(),
    )
    filters = datatrove_filters(cfg)
    run_datatrove("chain", texts[:50], filters)  # warm up: spaCy loads on first use
    run_ours("chain", texts[:50], cfg)
    names: tuple[str, ...] = RULE_SETS
    if args.language:
        from datatrove.pipeline.filters import LanguageFilter

        _lid176_for_datatrove()
        lang = LanguageFilterConfig()  # the default recipe: English, score >= 0.65
        cfg = cfg.model_copy(update={"language": lang})
        filters["language"] = LanguageFilter(
            languages=lang.languages, language_threshold=lang.min_confidence, backend="ft176"
        )
        run_datatrove("language+chain", texts[:50], filters)
        for name in LANGUAGE_CHAINS:
            run_ours(name, texts[:50], cfg)
        names = (*RULE_SETS, *LANGUAGE_CHAINS)

    chars = sum(map(len, texts))
    print(
        f"corpus: {len(texts)} documents, {chars:,} characters, seed {args.seed}; "
        f"kinds {dict(sorted(Counter(kinds).items()))}"
    )
    print(f"machine: {platform.machine()}, Python {platform.python_version()}\n")
    results = []
    header = (
        f"{'rule set':<27}{'kappa':>7}{'both keep':>10}{'both drop':>10}{'ours keep':>10}"
        f"{'dt keep':>9}{'reason=':>8}{'text=':>7}{'ours doc/s':>11}{'dt doc/s':>10}{'ratio':>7}"
    )
    print(header)
    for name in names:
        dt_name = "language+chain" if name in LANGUAGE_CHAINS else name
        ours, t_ours = timed(lambda n=name: run_ours(n, texts, cfg), args.repeat)
        dt, t_dt = timed(lambda n=dt_name: run_datatrove(n, texts, filters), args.repeat)
        r = compare(name, kinds, ours, dt)
        r.update(
            ours_docs_per_s=round(len(texts) / t_ours, 1),
            datatrove_docs_per_s=round(len(texts) / t_dt, 1),
            speed_ratio=round(t_dt / t_ours, 2),
        )
        results.append(r)
        c = r["confusion"]
        print(
            f"{name:<27}{r['kappa']:>7.3f}{c['both_keep']:>10}{c['both_drop']:>10}"
            f"{c['ours_keep_dt_drop']:>10}{c['ours_drop_dt_keep']:>9}"
            f"{(r['reason_agreement'] or 0):>8.3f}"
            f"{(r['text_agreement'] if 'c4' in name or 'chain' in name else 1.0) or 0:>7.3f}"
            f"{r['ours_docs_per_s']:>11,.0f}{r['datatrove_docs_per_s']:>10,.0f}"
            f"{r['speed_ratio']:>7.2f}"
        )
    print("\n(ours keep = thresher keeps, datatrove drops; dt keep = the reverse)")
    for r in results:
        if r["disagreements"] or r["reason_mismatches"]:
            print(f"\n{r['rule_set']}: disagreements (kind, thresher, datatrove, n)")
            for d in r["disagreements"]:
                print(f"  {d['kind']:<12} {d['ours']:<30} {d['datatrove']:<30} {d['n']}")
            for d in r["reason_mismatches"]:
                print(f"  both drop, other reason: {d['ours']} / {d['datatrove']}: {d['n']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
