"""``LimitTokens``: token counts as signals, and the recipe's token limit (``length.*``).

The decisions are ``thresher.core.tokens``'; this module loads the tokenizer (a Hugging Face
``tokenizer.json`` read through Beam ``FileSystems``, so any Beam path works; never
downloaded) and wires the stage.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection, TaggedOutput
from apache_beam.utils.shared import Shared

from thresher import progress
from thresher.config import TokenLengthConfig
from thresher.core.tokens import REASON, decide, signals, truncation_details
from thresher.errors import ConfigError, InputError
from thresher.records import Document, dropped_fate, with_turns
from thresher.stages._common import FATES, apply_guarded

STAGE = "length"
MODIFICATION = "length_truncate"
KEY = "length.tokenizer"


def load_tokenizer(path: str) -> Any:
    """The ``tokenizers.Tokenizer`` saved at ``path`` (a ``tokenizer.json``; any Beam path),
    with the file's own truncation and padding switched off, so counts are the full length.

    Raises ``InputError`` naming ``length.tokenizer`` when the file is missing, unreadable or
    not a tokenizer; ``ConfigError`` when the ``tokenizers`` library is not installed.
    """
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:  # a base dependency; only a broken install lands here
        raise ConfigError(
            f"{KEY} needs the `tokenizers` library: pip install 'tokenizers>=0.20,<1'"
        ) from exc
    if not FileSystems.exists(path):
        raise InputError(
            f"{KEY}: {path!r} does not exist; name a Hugging Face tokenizer.json (local or any "
            "Beam path), or remove the key to run without a token limit"
        )
    try:
        with FileSystems.open(path) as fh:
            data: bytes = fh.read()
    except Exception as exc:  # any filesystem's error: a folder, no permission, ...
        raise InputError(
            f"{KEY}: {path!r} cannot be read ({type(exc).__name__}); name a tokenizer.json file"
        ) from exc
    try:
        tokenizer = Tokenizer.from_str(data.decode("utf-8"))
    except Exception as exc:  # tokenizers raises a bare Exception on a bad file
        raise InputError(
            f"{KEY}: {path!r} is not a Hugging Face tokenizer.json ({type(exc).__name__}); "
            "name the tokenizer.json saved with the model (tokenizer.save(path))"
        ) from exc
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


class _TokenizerHolder:
    """Weak-referenceable holder for Beam's ``Shared``."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer


class _LimitFn(beam.DoFn):
    def __init__(self, cfg: TokenLengthConfig, shared: Shared) -> None:
        self._path = cfg.tokenizer or ""
        self._max = cfg.max_tokens
        self._on_overflow = cfg.on_overflow
        self._shared = shared
        self._tokenizer: Any = None
        self._total = Metrics.counter(STAGE, "total")
        self._kept = Metrics.counter(STAGE, "kept")
        self._truncated = Metrics.counter(STAGE, "truncated")
        self._dropped = Metrics.counter(STAGE, f"dropped.{REASON}")

    def setup(self) -> None:
        path = self._path
        # Shared keeps only a weak reference: hold the holder, or the next DoFn instance on
        # this worker parses the tokenizer again.
        self._holder = self._shared.acquire(
            lambda: _TokenizerHolder(load_tokenizer(path)), tag=f"tokenizer:{path}"
        )
        self._tokenizer = self._holder.tokenizer

    def process(self, doc: Document) -> Iterator[Any]:
        self._total.inc()
        progress.tick(STAGE)
        segments = doc.segments()
        roles = [s.role for s in segments]
        encoded = self._tokenizer.encode_batch([s.text for s in segments], add_special_tokens=False)
        counts = [len(e.ids) for e in encoded]
        decision = decide(roles, counts, self._max, self._on_overflow)
        if decision.action == "drop":
            self._dropped.inc()
            details: dict[str, Any] = {
                "tokens": decision.tokens,
                "max_tokens": self._max,
                "signals": signals(roles, counts),
            }
            if doc.is_chat:
                details["turns"] = len(counts)
            yield TaggedOutput(FATES, dropped_fate(doc, STAGE, REASON, details))
            return
        self._kept.inc()
        if decision.action == "truncate":
            self._truncated.inc()
            keep = decision.keep_turns
            doc = with_turns(
                doc,
                doc.messages[:keep],
                modifications=(*doc.modifications, MODIFICATION),
                details={
                    **doc.details,
                    MODIFICATION: truncation_details(decision, len(counts), self._max or 0),
                },
            )
            roles, counts = roles[:keep], counts[:keep]
        yield dataclasses.replace(doc, signals={**doc.signals, **signals(roles, counts)})


class LimitTokens(beam.PTransform):
    """Count every record's tokens and apply ``length.max_tokens``.

    Input ``PCollection[Document]``; output ``{"main", "fates", "dead_letter"}``. Tokens are
    counted with the recipe's ``length.tokenizer`` (loaded once per worker process), each
    segment encoded alone without special tokens: a document's text, or each turn's content
    (a chat template's own tokens are not counted). Every kept record gets signals ``tokens``
    (its total) and, for a conversation, ``tokens_max_turn`` and ``tokens_assistant``. Over
    ``max_tokens``: ``on_overflow: drop`` drops it (reason ``too_many_tokens``, details
    ``tokens``, ``max_tokens``, ``signals`` and, for a conversation, ``turns``);
    ``truncate`` cuts a conversation back to its longest prefix that ends with an assistant
    turn and fits (whole trailing exchanges go, never part of a turn), adds
    ``"length_truncate"`` to ``modifications`` and the numbers (turns and tokens before and
    after) to its lineage details under ``length_truncate``; a conversation with no such
    prefix, and any document, is dropped as above. Signals of a truncated record count what
    it keeps. The tokenizer file is checked when the stage is built (before the pipeline
    runs): missing or not a tokenizer is an ``InputError`` naming ``length.tokenizer``.
    Deterministic. Output can hold raw PII. Metrics (namespace ``length``): ``total``,
    ``kept``, ``truncated``, ``dropped.too_many_tokens``, ``dead_letter``.

    Example::

        out = docs | "LimitTokens" >> LimitTokens(config.length)
    """

    def __init__(self, cfg: TokenLengthConfig) -> None:
        super().__init__()
        if cfg.tokenizer is None:
            raise ConfigError(f"{KEY} is not set; LimitTokens needs a tokenizer.json path")
        load_tokenizer(cfg.tokenizer)  # fail at launch, not on every worker
        self._cfg = cfg

    def expand(self, docs: PCollection) -> dict[str, PCollection]:
        return apply_guarded(docs, "CountTokens", _LimitFn(self._cfg, Shared()), STAGE)


__all__ = ["MODIFICATION", "STAGE", "LimitTokens", "load_tokenizer"]
