"""Decontamination matching (``thresher.core.decontam``), table-driven, with negatives."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thresher.core.decontam import (
    BenchmarkIndex,
    BenchmarkItem,
    details,
    item_entries,
    match_tokens,
    match_words,
    ngram_hashes,
    record_keys,
    section,
    summarize,
    word_hashes,
)
from thresher.io.benchmarks import read_index, write_index

N = 13
QUESTION = (
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips "
    "in May. How many clips did Natalia sell altogether in April and May?"
)  # 31 words: 19 13-grams
ANSWER = (
    "Natalia sold 48/2 = 24 clips in May. Natalia sold 48+24 = 72 clips altogether in April "
    "and May. #### 72"
)  # 20 words: 8 13-grams
SHORT = "What is the capital city of France?"  # 7 words
BOILER = "Answer the following question and show your work step by step"  # 11 words
LONG_WITH_BOILER = (
    BOILER + " : a farmer keeps goats and chickens on a small hill farm near the river"
)

ITEMS = [
    BenchmarkItem("gsm8k", "test.jsonl:1", (QUESTION, ANSWER)),
    BenchmarkItem("gsm8k", "test.jsonl:2", (LONG_WITH_BOILER,)),
    BenchmarkItem("trivia", "t-7", (SHORT,)),
]


@pytest.fixture(scope="module")
def index() -> BenchmarkIndex:
    return BenchmarkIndex(ITEMS, N)


def found(index, segments, roles=("system", "user", "assistant")):
    return {
        (o.benchmark, o.item_id): (o.ngrams_matched, o.item_ngrams, o.turns)
        for o in index.match(record_keys(segments, N, roles))
    }


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("What's 2+2?", ["what", "s", "2", "2"]),
        ("WHAT S   2 2", ["what", "s", "2", "2"]),
        ("snake_case\tand\nlines", ["snake", "case", "and", "lines"]),
        ("Ｆｕｌｌｗｉｄｔｈ ﬁne", ["fullwidth", "fine"]),  # NFKC
        ("Straße", ["strasse"]),  # case folding
        ("café — naïve", ["café", "naïve"]),
        ("", []),
        ("!!! ... ???", []),
    ],
)
def test_match_words_ignores_case_whitespace_and_punctuation(text, words):
    assert match_words(text) == words


def test_hashes_are_stable_across_processes():
    here = ngram_hashes(word_hashes(match_tokens(QUESTION)), N).tolist()
    code = (
        "from thresher.core.decontam import *;"
        f"print(ngram_hashes(word_hashes(match_tokens({QUESTION!r})), {N}).tolist())"
    )
    env_seed = {"PYTHONHASHSEED": "12345"}
    there = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **env_seed},
        check=True,
    ).stdout
    assert there.strip() == str(here)
    assert len(here) == 31 - N + 1 and len(set(here)) == len(here)


def test_ngram_hashes_need_n_words():
    h = word_hashes([b"a", b"b", b"c"])
    assert len(ngram_hashes(h, 4)) == 0
    assert len(ngram_hashes(h, 3)) == 1 and len(ngram_hashes(h, 1)) == 3
    # order matters: the same words in another order are another n-gram
    assert ngram_hashes(h, 3)[0] != ngram_hashes(word_hashes([b"c", b"b", b"a"]), 3)[0]


@settings(max_examples=80, deadline=None)
@given(
    hashes=st.lists(st.integers(0, 2**64 - 1), max_size=60),
    n=st.integers(1, 20),
)
def test_property_ngram_hashes_are_the_polynomial_of_each_window(hashes, n):
    # the prefix-sum computation against the definition, one window at a time in Python ints
    mask, prime = (1 << 64) - 1, 0x100000001B3

    def fmix(x):
        x ^= x >> 33
        x = (x * 0xFF51AFD7ED558CCD) & mask
        return x ^ (x >> 33)

    expected = [
        fmix(
            sum(h * pow(prime, n - 1 - j, 1 << 64) for j, h in enumerate(hashes[i : i + n])) & mask
        )
        for i in range(len(hashes) - n + 1)
    ]
    assert ngram_hashes(np.array(hashes, dtype=np.uint64), n).tolist() == expected


def test_index_saved_and_loaded_matches_the_same(tmp_path, index):
    path = write_index(index, str(tmp_path / "work"))
    assert write_index(index, str(tmp_path / "work")) == path  # content-addressed: same file
    loaded = read_index(path)
    assert (loaded.ngrams, loaded.nbytes, loaded.refs) == (index.ngrams, index.nbytes, index.refs)
    for segments in (
        [(None, QUESTION.upper())],
        [("user", QUESTION[:80]), ("assistant", QUESTION[80:] + " " + ANSWER)],
        [(None, "intro\n" + SHORT)],
        [(None, BOILER)],
    ):
        keys = record_keys(segments, N)
        assert loaded.match(keys) == index.match(keys)
    assert len(list(tmp_path.joinpath("work").iterdir())) == 1


def test_index_counts_items_and_ngrams(index):
    assert [(r.benchmark, r.item_id, r.ngrams) for r in index.refs] == [
        ("gsm8k", "test.jsonl:1", 19 + 8),
        ("gsm8k", "test.jsonl:2", len(match_words(LONG_WITH_BOILER)) - N + 1),
        ("trivia", "t-7", 0),
    ]
    assert index.ngrams == 27 + len(match_words(LONG_WITH_BOILER)) - N + 1
    assert index.nbytes > 8 * index.ngrams


@pytest.mark.parametrize(
    ("segments", "expected"),
    [
        # verbatim inside a longer document
        ([(None, "Intro line.\n" + QUESTION + "\nOutro.")], {("gsm8k", "test.jsonl:1"): 19}),
        # capitals, doubled spaces, other punctuation
        (
            [(None, "  ".join(QUESTION.upper().replace(",", " ;").split()))],
            {("gsm8k", "test.jsonl:1"): 19},
        ),
        # answer only
        ([(None, "Worked solution: " + ANSWER)], {("gsm8k", "test.jsonl:1"): 8}),
        # question and answer
        ([(None, QUESTION + " " + ANSWER)], {("gsm8k", "test.jsonl:1"): 27}),
        # unrelated text
        ([(None, "The weather was mild and the river stayed calm all week long.")], {}),
    ],
)
def test_text_records(index, segments, expected):
    got = found(index, segments)
    assert {k: v[0] for k, v in got.items()} == expected


def test_overlap_reports_the_fraction_of_the_item(index):
    (o,) = index.match(record_keys([(None, "Solution: " + ANSWER)], N))
    assert (o.ngrams_matched, o.item_ngrams, o.fraction) == (8, 27, round(8 / 27, 4))
    assert o.detail() == {
        "item": "test.jsonl:1",
        "match": "ngram",
        "ngrams_matched": 8,
        "item_ngrams": 27,
        "fraction": round(8 / 27, 4),
    }


def test_prompt_only_and_answer_only_turns(index):
    chat_prompt = [("user", QUESTION), ("assistant", "I would rather not do arithmetic today.")]
    assert found(index, chat_prompt) == {("gsm8k", "test.jsonl:1"): (19, 27, (0,))}
    chat_answer = [("user", "Please solve my homework."), ("assistant", ANSWER)]
    assert found(index, chat_answer) == {("gsm8k", "test.jsonl:1"): (8, 27, (1,))}
    # turns whose role is not checked are not looked at
    assert found(index, chat_prompt, roles=("assistant",)) == {}
    system = [("system", QUESTION), ("user", "hi")]
    assert found(index, system, roles=("user", "assistant")) == {}
    assert found(index, system) == {("gsm8k", "test.jsonl:1"): (19, 27, (0,))}


def test_question_split_across_prompt_and_answer(index):
    w = QUESTION.split()
    split = [("user", " ".join(w[:10])), ("assistant", " ".join(w[10:20]))]
    # neither turn holds 13 consecutive words of the item; the crossing n-grams do
    assert found(index, split) == {("gsm8k", "test.jsonl:1"): (8, 27, (0, 1))}
    # only user -> assistant is a crossing: the reverse order, or a turn in between, is not
    assert found(index, [("assistant", " ".join(w[:10])), ("user", " ".join(w[10:20]))]) == {}
    between = [split[0], ("system", "be brief"), split[1]]
    assert found(index, between) == {}
    # and both turns must be checked
    assert found(index, split, roles=("user",)) == {}
    # a text record with the two halves joined is matched as ordinary text
    assert found(index, [(None, " ".join(w[:20]))])[("gsm8k", "test.jsonl:1")][0] == 8


@pytest.mark.parametrize(
    ("segments", "hit"),
    [
        ([(None, SHORT)], True),
        ([(None, "what is the CAPITAL city of france")], True),
        ([(None, "Quiz night\n\nWhat is the capital city of France?\nParis")], True),  # a line
        ([("user", SHORT), ("assistant", "Paris.")], True),  # the user turn, whole
        ([(None, "So what is the capital city of France? Everyone knows.")], False),
        ([(None, "What is the capital city of")], False),
        ([(None, "Paris")], False),
    ],
)
def test_short_items_match_only_as_whole_segments_or_lines(index, segments, hit):
    got = found(index, segments)
    assert (("trivia", "t-7") in got) is hit
    if hit:
        assert index.match(record_keys(segments, N))[-1].detail()["match"] == "whole"


def test_short_two_field_item_matches_a_user_assistant_pair():
    idx = BenchmarkIndex([BenchmarkItem("qa", "1", ("Capital of France?", "Paris"))], N)
    pair = [("user", "Capital of France?"), ("assistant", "Paris")]
    assert [o.turns for o in idx.match(record_keys(pair, N))] == [(0, 1)]
    assert idx.match(record_keys([(None, "capital of france paris")], N))
    assert not idx.match(record_keys([("user", "Capital of France?")], N))


def test_no_false_match_on_shared_boilerplate_shorter_than_ngram(index):
    # the record shares the 11-word instruction with item 2, but no 13 consecutive words
    record = BOILER + ". A baker sells bread and cakes in the town square every morning."
    assert found(index, [(None, record)]) == {}
    assert found(index, [(None, BOILER)]) == {}
    # twelve words of the item still are not thirteen
    twelve = " ".join(match_words(LONG_WITH_BOILER)[:12])
    assert found(index, [(None, twelve + " and then something else entirely")]) == {}
    thirteen = " ".join(match_words(LONG_WITH_BOILER)[:13])
    assert found(index, [(None, thirteen)]) == {("gsm8k", "test.jsonl:2"): (1, 13, (0,))}


def test_join_hits_give_the_same_overlaps_as_the_index(index):
    entries: dict[int, list] = {}
    for item in ITEMS:
        for key, ref in item_entries(item, N):
            entries.setdefault(key, []).append(ref)
    w = QUESTION.split()
    for segments in (
        [(None, QUESTION + "\n" + SHORT + "\n" + ANSWER)],
        [("user", " ".join(w[:10])), ("assistant", " ".join(w[10:]) + " " + ANSWER)],
        [("user", SHORT), ("assistant", "Paris")],
    ):
        keys = record_keys(segments, N)
        hits = [(ref, k, t) for k, t in keys.pairs() for ref in entries.get(k, ())]
        assert summarize(hits) == index.match(keys) != ()
        assert summarize(reversed(hits)) == summarize(hits)


words = st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]), min_size=0, max_size=40)


@settings(max_examples=60, deadline=None)
@given(items=st.lists(words, min_size=1, max_size=5), record=words, n=st.integers(1, 5))
def test_property_index_finds_exactly_the_items_sharing_an_ngram(items, record, n):
    bench = [BenchmarkItem("b", str(i), (" ".join(ws),)) for i, ws in enumerate(items)]
    idx = BenchmarkIndex(bench, n)

    def grams(ws):
        return {tuple(ws[i : i + n]) for i in range(len(ws) - n + 1)}

    expected = set()
    for i, ws in enumerate(items):
        shares_ngram = len(ws) >= n and bool(grams(ws) & grams(record))
        is_whole = 0 < len(ws) < n and ws == record
        if shares_ngram or is_whole:
            expected.add(str(i))
    got = {o.item_id for o in idx.match(record_keys([(None, " ".join(record))], n))}
    assert got == expected


def test_details_and_manifest_section():
    overlaps = BenchmarkIndex(ITEMS, N).match(record_keys([(None, QUESTION + "\n" + SHORT)], N))
    assert details(overlaps, N) == {
        "ngram": N,
        "benchmarks": {
            "gsm8k": {
                "items_matched": 1,
                "items": [
                    {
                        "item": "test.jsonl:1",
                        "match": "ngram",
                        "ngrams_matched": 19,
                        "item_ngrams": 27,
                        "fraction": round(19 / 27, 4),
                    }
                ],
            },
            "trivia": {
                "items_matched": 1,
                "items": [{"item": "t-7", "match": "whole", "fraction": 1.0}],
            },
        },
    }
    stats = {
        "decontamination.checked": 10,
        "decontamination.contaminated": 2,
        "run.decontamination.gsm8k.items": 4,
        "decontamination.gsm8k.records": 2,
        "decontamination.gsm8k.example_record.doc.2": 1,
        "decontamination.gsm8k.example_record.doc.1": 1,
        "decontamination.gsm8k.found.test.jsonl:1": 1,
        "run.decontamination.index_ngrams": 30,
        "run.decontamination.index_bytes": 9000,
    }
    assert section(stats, ["gsm8k", "trivia"], N, "drop") == {
        "ngram": N,
        "action": "drop",
        "method": "side_input",
        "records_checked": 10,
        "records_contaminated": 2,
        "index": {"ngrams": 30, "bytes": 9000},
        "benchmarks": {
            "gsm8k": {
                "items": 4,
                "items_found": 1,
                "contamination_rate": 0.25,
                "records": 2,
                "example_records": ["doc.1", "doc.2"],
                "example_items": ["test.jsonl:1"],
            },
            "trivia": {
                "items": 0,
                "items_found": 0,
                "contamination_rate": 0.0,
                "records": 0,
                "example_records": [],
                "example_items": [],
            },
        },
    }


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_property_ascii_fast_path_equals_the_unicode_path(text):
    # a trailing non-ASCII word sends the same text down the Unicode path
    assert match_tokens(text + " é") == [*match_tokens(text), "é".encode()]


fields = st.lists(words.map(" ".join), min_size=1, max_size=3)


@settings(max_examples=80, deadline=None)
@given(items=st.lists(fields, min_size=1, max_size=6), record=fields, n=st.integers(1, 4))
def test_property_join_entries_and_index_agree_on_multi_field_items(items, record, n):
    bench = [BenchmarkItem("b", f"i{k}", tuple(texts)) for k, texts in enumerate(items)]
    index = BenchmarkIndex(bench, n)
    entries: dict[int, list] = {}
    for item in bench:
        for key, ref in item_entries(item, n):
            entries.setdefault(key, []).append(ref)
    assert [r.ngrams for r in index.refs] == [
        len({k for k, _ in item_entries(i, n)}) if any(len(t.split()) >= n for t in i.texts) else 0
        for i in bench
    ]
    segments = [("user", record[0]), *(("assistant", t) for t in record[1:])]
    keys = record_keys(segments, n)
    hits = [(ref, k, t) for k, t in keys.pairs() for ref in entries.get(k, ())]
    assert summarize(hits) == index.match(keys)


def test_without_whole_forms_only_short_items_go_unmatched(index):
    text = [(None, QUESTION + "\n" + SHORT)]
    assert {o.item_id for o in index.match(record_keys(text, N))} == {"test.jsonl:1", "t-7"}
    keys = record_keys(text, N, wholes=False)
    assert keys.wholes == ()
    assert {o.item_id for o in index.match(keys)} == {"test.jsonl:1"}
