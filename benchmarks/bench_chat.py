"""Chat records against text records: the same characters through the full default recipe.

A generated fine-tuning set of ``--records`` conversations (1-3 exchanges, a system turn in one
of four) is written twice: as OpenAI ``messages`` records (``input.record: chat``) and as text
records whose text is the conversation's text view (its turns, blank-line separated), so both
runs read the same characters. Each is run through the default recipe (PII on), ``--repeat``
times, alternating; the median pipeline time gives characters per second of each kind and their
ratio (target: chat within 15% of text).

    .venv/bin/python -m benchmarks.bench_chat --records 2000
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
from pathlib import Path

from benchmarks.corpus import document
from benchmarks.harness import run_thresher

ASKS = (
    "Can you explain this to me?",
    "Please summarise the following for a friend.",
    "What would you change in this paragraph?",
    "Could you rewrite this more clearly?",
)


def conversations(n: int, seed: int = 11) -> list[list[dict[str, str]]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        turns = (
            [{"role": "system", "content": "You are a helpful assistant."}] if i % 4 == 0 else []
        )
        for _ in range(1 + i % 3):
            turns.append({"role": "user", "content": f"{rng.choice(ASKS)} {document(rng, 20, 60)}"})
            turns.append({"role": "assistant", "content": document(rng, 60, 200)})
        out.append(turns)
    return out


def write_inputs(directory: Path, convs: list[list[dict[str, str]]]) -> int:
    """``chat/records.jsonl`` and ``text/records.jsonl``; returns the characters of each."""
    (directory / "chat").mkdir()
    (directory / "text").mkdir()
    chars = 0
    with (
        (directory / "chat" / "records.jsonl").open("w", encoding="utf-8") as chat,
        (directory / "text" / "records.jsonl").open("w", encoding="utf-8") as text,
    ):
        for i, turns in enumerate(convs):
            view = "\n\n".join(t["content"] for t in turns)
            chars += len(view)
            chat.write(json.dumps({"id": f"r{i}", "messages": turns}) + "\n")
            text.write(json.dumps({"id": f"r{i}", "text": view}) + "\n")
    return chars


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-pii", action="store_true", help="turn the PII stage off")
    a = ap.parse_args()
    common = ["input.id_field=id"] + (["pii.enabled=false"] if a.no_pii else [])
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        chars = write_inputs(t, conversations(a.records))
        print(f"{a.records:,} conversations, {chars:,} characters of text, PII {not a.no_pii}")
        seconds: dict[str, list[float]] = {"text": [], "chat": []}
        kept: dict[str, int] = {}
        for r in range(a.repeat):
            for kind in ("text", "chat"):
                extra = ["input.record=chat"] if kind == "chat" else []
                out = t / f"out-{kind}-{r}"
                run = run_thresher(t / kind, out, overrides=[*common, *extra])
                seconds[kind].append(run.manifest["timings"]["pipeline_seconds"])
                kept[kind] = run.manifest["counts"]["kept"]
        rate = {k: chars / statistics.median(v) for k, v in seconds.items()}
        for kind in ("text", "chat"):
            runs = ", ".join(f"{s:.1f}" for s in seconds[kind])
            print(
                f"{kind}: pipeline seconds {runs}; {rate[kind]:,.0f} chars/s; "
                f"kept {kept[kind]:,} of {a.records:,}"
            )
        print(f"chat / text throughput: {rate['chat'] / rate['text']:.3f} (target >= 0.85)")


if __name__ == "__main__":
    main()
