"""Language identification: the three backends (``filters.language.backend``: ``cascade``, the
default, fastText's lid.176 backed by lingua; ``lingua``; ``fasttext``) on text no one here
wrote.

- English prose: the package descriptions and docs shipped in the installed wheels
  (``bench_pii.speed_corpus``: READMEs, changelogs; ~1.5 KB documents with names, URLs, code),
  the docstrings of 600 characters or more in the installed packages' Python files (every
  k-th of them in path order: prose with code examples and parameter tables), and the
  generated corpus of the scale benchmarks (``benchmarks.corpus.document``).
- Short sentences in ~60 languages: spaCy's example sentences (``spacy/lang/<code>/examples.py``,
  written by spaCy's contributors), labelled by their language directory.
- The same sentences four at a time (paragraphs of one language, real text over 100 characters,
  where the cascade lets fastText decide).

Reported per backend: CPU milliseconds per document (one process, the detector built once;
the best of ``--repeat`` timings), and on the English documents how often each backend agrees
with lingua on the default recipe's decision (keep when the language is ``en`` with score >=
0.65); on the sentences and paragraphs, the share each backend labels with its language
(languages both backends know).

    .venv/bin/python -m benchmarks.bench_language --docs 1000 --repeat 3
"""

from __future__ import annotations

import argparse
import ast
import random
import time
from collections.abc import Callable
from pathlib import Path

import spacy

from benchmarks.bench_pii import speed_corpus
from benchmarks.corpus import document
from thresher.core.language import BACKENDS, Cascade, build_detector, known_codes

PARAGRAPH = 4  # sentences per paragraph

MIN_CONFIDENCE = 0.65
MAX_CHARS = 10_000


def spacy_examples() -> list[tuple[str, str]]:
    """(language code, sentence) for every example sentence spaCy ships, read without importing
    the language modules (the ``sentences`` list literal of each ``examples.py``)."""
    out = []
    for path in sorted(Path(spacy.__file__).parent.glob("lang/*/examples.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "sentences" for t in node.targets)
                and isinstance(node.value, ast.List)
            ):
                for element in node.value.elts:
                    if isinstance(element, ast.Constant) and isinstance(element.value, str):
                        out.append((path.parent.name, element.value))
    return out


def docstrings(n: int, min_chars: int = 600) -> list[str]:
    """``n`` distinct docstrings of at least ``min_chars`` characters from the installed
    packages' modules, classes and functions, spread evenly over them in path order."""
    found: list[str] = []
    seen: set[str] = set()
    root = Path(spacy.__file__).parent.parent  # site-packages
    for path in sorted(root.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc and len(doc) >= min_chars and doc not in seen:
                    seen.add(doc)
                    found.append(doc)
    step = max(1, len(found) // max(1, n))
    return found[::step][:n]


def timed(fn: Callable[[str], tuple[str | None, float]], texts: list[str], repeat: int):
    best, results = float("inf"), []
    for _ in range(repeat):
        t0 = time.process_time()
        results = [fn(t) for t in texts]
        best = min(best, time.process_time() - t0)
    return results, best * 1000 / max(1, len(texts))


def keep(result: tuple[str | None, float]) -> bool:
    return result[0] == "en" and result[1] >= MIN_CONFIDENCE


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    rng = random.Random(3)
    corpora = {
        "package docs (real, English)": speed_corpus(a.docs),
        "docstrings (real, English)": docstrings(a.docs),
        "generated prose": [document(rng, 60, 260) for _ in range(a.docs)],
    }
    examples = spacy_examples()
    both = known_codes("lingua") & known_codes("fasttext")
    labelled = [(code, text) for code, text in examples if code in both]
    detectors = {b: build_detector(True, b) for b in BACKENDS}
    results: dict[tuple[str, str], list[tuple[str | None, float]]] = {}
    for name, texts in corpora.items():
        chars = sum(map(len, texts)) / max(1, len(texts))
        print(f"{name}: {len(texts)} documents, {chars:,.0f} characters on average")
        for backend, det in detectors.items():
            res, ms = timed(lambda t, d=det: d.identify(t, MAX_CHARS), texts, a.repeat)
            results[name, backend] = res
            kept = sum(map(keep, res))
            print(f"  {backend:9s} {ms:6.3f} ms/document, kept as English {kept}/{len(res)}")
        cascade = detectors["cascade"]
        assert isinstance(cascade, Cascade)
        fast = sum(cascade.sure_verdict(t, MAX_CHARS) is not None for t in texts)
        print(f"  cascade: fastText decided {fast}/{len(texts)}, lingua the rest")
        for backend in BACKENDS:
            if backend != "lingua":
                pairs = zip(results[name, "lingua"], results[name, backend], strict=True)
                agree = sum(keep(x) == keep(y) for x, y in pairs)
                print(
                    f"  {backend} decision agreement with lingua {agree}/{len(texts)} = "
                    f"{agree / max(1, len(texts)):.4f}"
                )
    by_language: dict[str, list[str]] = {}
    for code, text in labelled:
        by_language.setdefault(code, []).append(text)
    paragraphs = [
        (code, " ".join(texts[i : i + PARAGRAPH]))
        for code, texts in by_language.items()
        for i in range(0, len(texts), PARAGRAPH)
    ]
    for title, items in (("sentences", labelled), ("paragraphs", paragraphs)):
        chars = sum(len(t) for _, t in items) / max(1, len(items))
        print(
            f"spaCy example {title}: {len(items)} in {len({c for c, _ in items})} languages both "
            f"backends know ({len(examples)} sentences in all), {chars:,.0f} characters on average"
        )
        for backend, det in detectors.items():
            res, ms = timed(
                lambda t, d=det: d.identify(t, MAX_CHARS), [t for _, t in items], a.repeat
            )
            right = sum(r[0] == code for r, (code, _) in zip(res, items, strict=True))
            print(
                f"  {backend:9s} {ms:6.3f} ms each, own language {right}/{len(items)} = "
                f"{right / max(1, len(items)):.3f}"
            )


if __name__ == "__main__":
    main()
