"""datatrove's MinHash deduplication on a JSONL corpus, for ``bench_near_dedup peer``.

Runs in its own venv (never a thresher dependency), from the repository root:

    python3 -m venv /tmp/dt && /tmp/dt/bin/pip install datatrove==0.10.1 orjson tokenizers regex
    /tmp/dt/bin/python -m benchmarks.peer_datatrove CORPUS.jsonl WORKDIR

Its four stages (signatures, buckets, clusters, filter) with its default MinhashConfig
(5-grams, 14 buckets x 8 hashes, no similarity check) except two settings forced by this
machine (see FIELD-NOTES): ``hash_fc="sha1"`` (its xxhash path breaks with xxhash 4.x) and a
``\\w+`` word tokenizer (its English tokenizer needs spaCy; thresher shingles ``\\w+`` words
too, so both tools see the same words). Prints one JSON line: removed ids and seconds.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.hashing import HashConfig
from datatrove.utils.word_tokenizers import WordTokenizer

_WORD = re.compile(r"\w+")


class RegexWords(WordTokenizer):
    def word_tokenize(self, text: str) -> list[str]:
        return _WORD.findall(text)

    def sent_tokenize(self, text: str) -> list[str]:
        return [text]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _WORD.finditer(text)]


def main(corpus: str, work: str) -> None:
    src = Path(corpus)
    w = Path(work)
    config = MinhashConfig(hash_config=HashConfig(hash_fc="sha1"))

    def reader():
        return JsonlReader(str(src.parent), glob_pattern=src.name, text_key="text", id_key="id")

    t0 = time.perf_counter()
    LocalPipelineExecutor(
        pipeline=[
            reader(),
            MinhashDedupSignature(
                output_folder=str(w / "sigs"), config=config, language=RegexWords("en")
            ),
        ],
        tasks=1,
        logging_dir=str(w / "logs/sigs"),
    ).run()
    LocalPipelineExecutor(
        pipeline=[
            MinhashDedupBuckets(
                input_folder=str(w / "sigs"), output_folder=str(w / "buckets"), config=config
            )
        ],
        tasks=config.num_buckets,
        logging_dir=str(w / "logs/buckets"),
    ).run()
    LocalPipelineExecutor(
        pipeline=[
            MinhashDedupCluster(
                input_folder=str(w / "buckets"), output_folder=str(w / "remove"), config=config
            )
        ],
        tasks=1,
        logging_dir=str(w / "logs/cluster"),
    ).run()
    LocalPipelineExecutor(
        pipeline=[
            reader(),
            MinhashDedupFilter(
                input_folder=str(w / "remove"),
                exclusion_writer=JsonlWriter(str(w / "removed"), compression=None),
            ),
            JsonlWriter(str(w / "kept"), compression=None),
        ],
        tasks=1,
        logging_dir=str(w / "logs/filter"),
    ).run()
    seconds = time.perf_counter() - t0
    removed = []
    for f in sorted((w / "removed").glob("*.jsonl")):
        removed.extend(json.loads(line)["id"] for line in f.read_text().splitlines() if line)
    print(json.dumps({"removed": removed, "seconds": seconds}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
