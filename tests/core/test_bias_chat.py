"""thresher.core.bias on conversations: counts per turn (no co-occurrence across turns), the
record's signals from its turns, the turn that decides a drop, and per-role stats summed into
the manifest's ``roles`` report."""

from __future__ import annotations

from collections import Counter

import pytest

from thresher.core.bias import (
    BiasRules,
    bias_section,
    bias_signals,
    chat_bias_signals,
    decide,
    deciding_turn,
    load_lexicons,
    role_keys,
    role_report,
    turn_bias,
)
from thresher.records import Turn, render_turns

WINDOW = 10
RULES = BiasRules(
    toxicity_threshold=0.01, drop_toxic=True, min_cooccurrences=1, drop_identity_toxic=True
)
LONG = (
    "Here is a careful summary of the museum's opening hours, ticket prices and the "
    "accessible entrances on the north side of the building."
)


@pytest.fixture(scope="module")
def lex():
    return load_lexicons()


def test_turns_are_counted_one_by_one(lex):
    turns = (
        Turn("user", "Why are the women in my team such idiots?"),
        Turn("assistant", "That is unfair to your colleagues; " + LONG),
        Turn("user", "Fine. What about the elderly men?"),
    )
    got = [
        (
            t.turn,
            t.role,
            t.toxicity_terms,
            t.cooccurrences,
            t.identity_counts["gender"],
            t.identity_counts["age"],
        )
        for t in turn_bias(turns, lex, WINDOW)
    ]
    assert got == [(0, "user", 1, 1, 1, 0), (1, "assistant", 0, 0, 0, 0), (2, "user", 0, 0, 1, 1)]


def test_a_cooccurrence_never_spans_two_turns(lex):
    turns = (Turn("user", "Tell me about women."), Turn("assistant", "Idiots."))
    per_turn = turn_bias(turns, lex, WINDOW)
    assert [t.cooccurrences for t in per_turn] == [0, 0]
    assert chat_bias_signals(per_turn)["toxic_identity_cooccurrences"] == 0.0


def test_record_signals_sum_turns_and_take_the_worst_score(lex):
    turns = (
        Turn("user", "You idiot."),  # 1 toxic term in 2 words
        Turn("assistant", "Please be kind. " + LONG),
    )
    s = chat_bias_signals(turn_bias(turns, lex, WINDOW))
    assert s["toxicity_terms"] == 1.0
    assert s["toxicity_score"] == 0.5  # the user turn, not diluted by the long answer
    whole = bias_signals(render_turns(turns), lex, WINDOW)["toxicity_score"]
    assert whole == 1 / 28  # the whole text, diluted: under a 0.05 threshold, the turn is not
    assert decide(s, BiasRules(0.05, True, 1, False)).reason == "toxic_content"
    assert decide(s, RULES).reason == "toxic_content"


def test_the_deciding_turn_is_named(lex):
    turns = (
        Turn("system", "Be helpful."),
        Turn("user", "Plan a trip to Lisbon."),
        Turn("assistant", "Day one: the old town. " + LONG),
        Turn("user", "This is crap, you moron."),
        Turn("assistant", "Those immigrants are scum."),
    )
    per_turn = turn_bias(turns, lex, WINDOW)
    toxic = deciding_turn(per_turn, "toxic_content", RULES)
    near = deciding_turn(per_turn, "toxic_identity_cooccurrence", RULES)
    assert (toxic.turn, toxic.role) == (3, "user")
    assert (near.turn, near.role) == (4, "assistant")
    two = BiasRules(0.01, False, 2, True)
    assert deciding_turn(per_turn, "toxic_identity_cooccurrence", two) is None  # only 1 in all


def test_role_keys_and_report(lex):
    convs = [
        (
            Turn("user", "My teenager is a Catholic woman."),
            Turn("assistant", "Then ask her priest. " + LONG),
        ),
        (Turn("user", "You idiot."), Turn("assistant", "Let us keep this civil. " + LONG)),
    ]
    total: Counter[str] = Counter()
    for turns in convs:
        total.update(role_keys(turn_bias(turns, lex, WINDOW), RULES.toxicity_threshold))
    assert dict(total) == {
        "bias.role.user.turns": 2,
        "bias.role.user.toxic_turns": 1,
        "bias.role.user.toxicity_terms": 1,
        "bias.role.user.identity_terms": 3,  # teenager, Catholic, woman
        "bias.role.user.group.gender.turns": 1,
        "bias.role.user.group.age.turns": 1,
        "bias.role.user.group.religion.turns": 1,
        "bias.role.assistant.turns": 2,
    }
    report = role_report(total)
    assert list(report) == ["user", "assistant"]
    user = report["user"]
    assert {
        k: user[k]
        for k in ("turns", "toxic_turns", "toxic_share", "toxicity_terms", "identity_terms")
    } == {
        "turns": 2,
        "toxic_turns": 1,
        "toxic_share": 0.5,
        "toxicity_terms": 1,
        "identity_terms": 3,
    }
    assert user["groups"]["religion"] == {"turns": 1, "share": 0.5}
    assert report["assistant"]["groups"]["gender"] == {"turns": 0, "share": 0.0}
    assert report["assistant"]["toxic_share"] == 0.0


def test_bias_section_has_roles_only_with_conversations():
    docs_only = {"bias.output.records": 3}
    assert "roles" not in bias_section(docs_only, 1.25, 1, 0.95)
    with_chats = {**docs_only, "bias.role.assistant.turns": 2}
    assert bias_section(with_chats, 1.25, 1, 0.95)["roles"]["assistant"]["turns"] == 2
