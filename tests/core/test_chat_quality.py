"""Table-driven tests of thresher.core.chat_quality: every chat rule just inside and just
outside its threshold, plus negatives (a legit answer is not a refusal, a quote is not a copy).
Each rule is isolated by switching the other rules off."""

from __future__ import annotations

import dataclasses
from importlib import resources

import pytest

from thresher.config import ChatFilterConfig
from thresher.core.chat_quality import (
    ChatRules,
    RefusalMatcher,
    evaluate_chat,
    response_dup_ngram_frac,
    shipped_refusals,
)
from thresher.core.quality import GopherRepetitionRules, gopher_repetition
from thresher.errors import ConfigError
from thresher.records import Turn

DEFAULTS = ChatRules.from_section(ChatFilterConfig().model_dump())
OFF = ChatRules(True, None, None, False, None, None, None)
REFUSALS = shipped_refusals()

PROMPT = "What should I pack for a week of hiking in the Scottish Highlands in late spring?"
ANSWER = (
    "Pack layers: a waterproof jacket and trousers, a warm fleece, quick-drying shirts and "
    "wool socks. Bring broken-in boots, a map and compass, midge repellent, and enough food "
    "for the longer stretches between villages."
)


def chat(*pairs: tuple[str, str]) -> tuple[Turn, ...]:
    return tuple(Turn(role, content) for role, content in pairs)


def qa(answer: str, prompt: str = PROMPT) -> tuple[Turn, ...]:
    return chat(("user", prompt), ("assistant", answer))


def only(**changes) -> ChatRules:
    """Every rule off except the ones named."""
    return dataclasses.replace(OFF, **changes)


def verdict(turns, rules=DEFAULTS, refusals=REFUSALS, annotate=False):
    d = evaluate_chat(turns, rules, refusals, annotate)
    return d.keep, d.reason, d.turn, d.role, d.value, d.threshold


# --- each rule: (turns, rules) -> (keep, reason, turn, role, value, threshold) -------------

WORDS_14 = " ".join([*PROMPT.split()[:13], "boots?"])  # 13 prompt words, then one new
CASES = [
    pytest.param(qa(ANSWER), DEFAULTS, (True, None, None, None, None, None), id="good-answer"),
    pytest.param(
        chat(("system", "Be brief."), ("user", PROMPT)),
        DEFAULTS,
        (False, "no_assistant_turn", None, None, 0.0, 1.0),
        id="no-assistant",
    ),
    pytest.param(
        qa("  \n\t "), DEFAULTS, (False, "empty_response", 1, "assistant", 0.0, None), id="empty"
    ),
    pytest.param(
        qa("Yes."),
        only(min_response_words=3),
        (False, "short_response", 1, "assistant", 1.0, 3),
        id="short",
    ),
    pytest.param(
        qa("Yes, pack layers."), only(min_response_words=3), (True,) + (None,) * 5, id="short-ok"
    ),
    pytest.param(
        qa("one two three four five six"),
        only(max_response_words=5),
        (False, "long_response", 1, "assistant", 6.0, 5),
        id="long",
    ),
    pytest.param(
        qa("one two three four five"),
        only(max_response_words=5),
        (True,) + (None,) * 5,
        id="long-ok",
    ),
    pytest.param(
        chat(("user", "a"), ("assistant", "b"), ("user", "c")),
        only(max_turns=2),
        (False, "too_many_turns", 2, "user", 3.0, 2),
        id="too-many-turns",
    ),
    pytest.param(
        chat(("user", "a"), ("assistant", "b")),
        only(max_turns=2),
        (True,) + (None,) * 5,
        id="turns-ok",
    ),
    pytest.param(
        qa("Buy now, buy now, buy now, buy now, buy now, buy now!"),
        only(max_response_dup_ngram_frac=0.3),
        # "now , buy" repeats 4 times after its first 3-gram: 4 x 7 of 53 characters
        (False, "repeated_response_ngrams", 1, "assistant", 28 / 53, 0.3),
        id="repeated",
    ),
    pytest.param(
        qa(ANSWER), only(max_response_dup_ngram_frac=0.3), (True,) + (None,) * 5, id="repeated-ok"
    ),
    pytest.param(
        qa(PROMPT),
        only(max_prompt_copy_frac=0.9),
        (False, "copies_prompt", 1, "assistant", 1.0, 0.9),
        id="copies-whole-prompt",
    ),
    pytest.param(
        qa(WORDS_14),
        only(max_prompt_copy_frac=0.9),
        (False, "copies_prompt", 1, "assistant", 0.9, 0.9),  # 9 of 10 5-grams: at the limit
        id="copies-at-limit",
    ),
    pytest.param(
        qa(WORDS_14 + " Maybe."),
        only(max_prompt_copy_frac=0.9),
        (True,) + (None,) * 5,
        id="copies-below-limit",  # 9 of 11
    ),
    pytest.param(
        qa("Late spring? Hiking?", prompt="Late spring? Hiking?"),
        only(max_prompt_copy_frac=0.9),
        (True,) + (None,) * 5,
        id="copies-under-five-words-not-measured",
    ),
    pytest.param(
        qa(PROMPT.upper().replace("?", "!")),
        only(max_prompt_copy_frac=0.9),
        (False, "copies_prompt", 1, "assistant", 1.0, 0.9),
        id="copies-ignores-case-and-punctuation",
    ),
    pytest.param(
        chat(("user", "Hi"), ("assistant", ANSWER), ("user", "Again?"), ("assistant", ANSWER)),
        only(max_prompt_copy_frac=0.9),
        (False, "copies_prompt", 3, "assistant", 1.0, 0.9),
        id="copies-an-earlier-answer",
    ),
]


@pytest.mark.parametrize(("turns", "rules", "expected"), CASES)
def test_rule_table(turns, rules, expected):
    assert verdict(turns, rules) == expected


def test_a_long_answer_quoting_one_prompt_sentence_does_not_copy_the_prompt():
    prompt = (
        "My landlord wrote: the deposit will be returned within thirty days of the end of the "
        "tenancy. It has been six weeks. What can I do?"
    )
    answer = (
        "Your tenancy agreement says that the deposit will be returned within thirty days of "
        "the end of the tenancy, so the landlord is late. Write to them first, give a date, and "
        "keep a copy. If nothing happens, ask the deposit protection scheme for its free "
        "dispute service; it can order the money back without a court hearing."
    )
    d = evaluate_chat(qa(answer, prompt), only(max_prompt_copy_frac=0.9), None)
    assert d.keep
    assert 0.1 < d.signals["chat_prompt_copy_frac_max"] < 0.3


# --- refusal --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        "As an AI language model, I cannot give legal advice.",
        "AS AN AI LANGUAGE MODEL I CANNOT DO THAT",
        "As  an\nAI   language model, I have no opinion.",  # whitespace runs
        "I’m sorry, but I can’t help you plan that.",  # curly apostrophes
        "Sure. Actually, I am unable to browse the web.",  # anywhere in the response
        "I was trained by OpenAI and cannot share that.",
    ],
)
def test_refusal_phrases_are_found(answer):
    keep, reason, turn, role, *_ = verdict(qa(answer), only(refusals=True))
    assert (keep, reason, turn, role) == (False, "refusal", 1, "assistant")


@pytest.mark.parametrize(
    "answer",
    [
        "A language model assigns probabilities to sequences of words; GPT-4 is a large "
        "language model trained by OpenAI on text and code.",
        "As an AIM user since 2003, I can tell you the buddy list lived on the server.",
        "The error 'unable to open file' means the path is wrong.",
        ANSWER,
    ],
)
def test_legit_answers_are_not_refusals(answer):
    assert verdict(qa(answer), only(refusals=True))[0] is True


def test_refusal_only_looks_at_responses_and_can_be_switched_off():
    turns = qa(ANSWER, prompt="As an AI language model, what would you pack?")
    assert verdict(turns, only(refusals=True))[0] is True
    assert verdict(qa("As an AI language model, no."), only(refusals=False))[0] is True
    assert verdict(qa("As an AI language model, no."), only(refusals=True), refusals=None)[0]


def test_refusal_details_name_the_phrase_line_not_the_text():
    matcher = RefusalMatcher.parse("# comment\n\nfirst phrase\n  As an AI  \n")
    d = evaluate_chat(qa("Well, as an AI, I must decline."), only(refusals=True), matcher)
    assert d.details() == {
        "rule_set": "chat",
        "turn": 1,
        "role": "assistant",
        "value": 1.0,
        "phrase_line": 4,
        "signals": {
            "chat_assistant_turns": 1.0,
            "chat_refusal_turns": 1.0,
            "chat_response_words_max": 7.0,
            "chat_response_words_min": 7.0,
            "chat_turns": 2.0,
        },
    }


def test_every_shipped_phrase_matches_itself_in_a_sentence():
    text = resources.files("thresher").joinpath("data", "refusal_phrases.txt").read_text("utf-8")
    phrases = [s.strip() for s in text.splitlines() if s.strip() and not s.startswith("#")]
    assert 30 <= len(phrases) == len(REFUSALS)
    assert [p for p in phrases if REFUSALS.find(f"Well. {p} here.") is None] == []


@pytest.mark.parametrize("text", ["", "# only a comment\n\n   \n"])
def test_an_empty_phrase_list_is_a_config_error(text):
    with pytest.raises(ConfigError, match=r"refusal_phrases_file: mine\.txt holds no phrase"):
        RefusalMatcher.parse(text, "mine.txt")


# --- order, annotate, signals ----------------------------------------------------------------


def test_the_first_failing_turn_decides():
    turns = chat(
        ("user", "Hi"),
        ("assistant", ANSWER),
        ("user", "And food?"),
        ("assistant", ""),
        ("user", "Well?"),
        ("assistant", "As an AI language model I cannot say."),
    )
    assert verdict(turns)[:4] == (False, "empty_response", 3, "assistant")


def test_annotate_measures_every_response_and_reports_the_first_failure():
    turns = chat(
        ("user", "Hi"),
        ("assistant", "As an AI language model I cannot say."),
        ("user", "Try."),
        ("assistant", "Buy now, buy now, buy now, buy now, buy now, buy now!"),
    )
    drop = evaluate_chat(turns, DEFAULTS, REFUSALS)
    ann = evaluate_chat(turns, DEFAULTS, REFUSALS, annotate=True)
    assert (drop.reason, drop.turn) == (ann.reason, ann.turn) == ("refusal", 1)
    assert "chat_response_dup_3_gram_char_frac_max" not in drop.signals
    assert ann.signals == {
        "chat_assistant_turns": 2.0,
        "chat_prompt_copy_frac_max": 0.0,
        "chat_refusal_turns": 1.0,
        "chat_response_dup_3_gram_char_frac_max": 28 / 53,
        "chat_response_words_max": 12.0,
        "chat_response_words_min": 8.0,
        "chat_turns": 4.0,
    }


def test_kept_conversation_signals():
    turns = chat(("system", "Be kind."), ("user", PROMPT), ("assistant", ANSWER))
    d = evaluate_chat(turns, DEFAULTS, REFUSALS)
    assert d.keep
    assert d.signals == {
        "chat_assistant_turns": 1.0,
        "chat_prompt_copy_frac_max": 0.0,
        "chat_refusal_turns": 0.0,
        "chat_response_dup_3_gram_char_frac_max": 0.0,
        "chat_response_words_max": float(len(ANSWER.split())),
        "chat_response_words_min": float(len(ANSWER.split())),
        "chat_turns": 3.0,
    }


@pytest.mark.parametrize(
    "text",
    [ANSWER, "Buy now, buy now, buy now, buy now, buy now, buy now!", "a b c a b c a b c d", ""],
)
def test_repetition_is_gophers_3_gram_signal_on_the_response(text):
    rules = GopherRepetitionRules(True, None, None, None, None, {}, {3: 1.0})
    d = gopher_repetition(text, rules, stop_at_first=False)
    assert response_dup_ngram_frac(text) == d.signals.get("gopher_dup_3_gram_char_frac", 0.0)
