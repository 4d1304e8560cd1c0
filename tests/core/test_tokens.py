"""Token limits: the decision table, the fitting prefix and the signals (tier a)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thresher.core.tokens import LengthDecision, decide, fitting_prefix, signals, truncation_details

U, A, S, T = "user", "assistant", "system", "tool"


@pytest.mark.parametrize(
    ("roles", "counts", "limit", "expected"),
    [
        ((U, A, U, A), (3, 4, 5, 6), 18, 4),  # everything fits
        ((U, A, U, A), (3, 4, 5, 6), 17, 2),  # the last exchange goes
        ((U, A, U, A), (3, 4, 5, 6), 12, 2),  # a user turn alone never ends a prefix
        ((U, A, U, A), (3, 4, 5, 6), 7, 2),  # exactly at the limit fits
        ((U, A, U, A), (3, 4, 5, 6), 6, 0),  # not even the first exchange
        ((S, U, A, U, A), (2, 3, 4, 5, 6), 9, 3),  # the system turn counts
        ((S, U, A, U, A), (2, 3, 4, 5, 6), 8, 0),
        ((U, A, T, A), (1, 1, 50, 1), 10, 2),  # a big tool turn cuts there
        ((U, A, A), (1, 1, 1), 2, 2),
        ((U, U), (1, 1), 5, 0),  # no assistant turn: nothing ends a prefix
        ((), (), 5, 0),
    ],
)
def test_fitting_prefix(roles, counts, limit, expected):
    assert fitting_prefix(roles, counts, limit) == expected


@pytest.mark.parametrize(
    ("roles", "counts", "limit", "on_overflow", "expected"),
    [
        # no limit: counted, kept
        ((None,), (500,), None, "drop", LengthDecision("keep", 1, 500, 500)),
        ((U, A), (5, 5), None, "truncate", LengthDecision("keep", 2, 10, 10)),
        # within the limit, at it
        ((None,), (10,), 10, "drop", LengthDecision("keep", 1, 10, 10)),
        ((U, A), (5, 5), 10, "truncate", LengthDecision("keep", 2, 10, 10)),
        # over it
        ((None,), (11,), 10, "drop", LengthDecision("drop", 0, 11, 0)),
        ((None,), (11,), 10, "truncate", LengthDecision("drop", 0, 11, 0)),  # documents drop
        ((U, A, U, A), (3, 4, 5, 6), 10, "drop", LengthDecision("drop", 0, 18, 0)),
        ((U, A, U, A), (3, 4, 5, 6), 10, "truncate", LengthDecision("truncate", 2, 18, 7)),
        ((U, A, U, A), (3, 4, 5, 6), 6, "truncate", LengthDecision("drop", 0, 18, 0)),
        # a conversation ending with a user turn, over the limit: back to the last answer
        ((U, A, U), (2, 2, 9), 10, "truncate", LengthDecision("truncate", 2, 13, 4)),
    ],
)
def test_decide(roles, counts, limit, on_overflow, expected):
    assert decide(roles, counts, limit, on_overflow) == expected


def test_signals_of_a_document_and_a_conversation():
    assert signals([None], [12]) == {"tokens": 12.0}
    assert signals([S, U, A, U, A], [2, 3, 4, 9, 6]) == {
        "tokens": 24.0,
        "tokens_max_turn": 9.0,
        "tokens_assistant": 10.0,
    }


def test_truncation_details_are_numbers_only():
    decision = LengthDecision("truncate", 2, 18, 7)
    assert truncation_details(decision, 4, 10) == {
        "turns": 4,
        "turns_kept": 2,
        "turns_removed": 2,
        "tokens": 18,
        "tokens_kept": 7,
        "max_tokens": 10,
    }


@given(
    st.lists(st.tuples(st.sampled_from([S, U, A, T]), st.integers(0, 20)), max_size=12),
    st.integers(1, 60),
)
def test_truncation_keeps_the_longest_fitting_prefix_ending_with_an_answer(turns, limit):
    roles = [r for r, _ in turns]
    counts = [n for _, n in turns]
    d = decide(roles or [None], counts or [0], limit, "truncate")
    if sum(counts) <= limit:
        assert d.action == "keep"
        return
    fitting = [
        k for k in range(1, len(turns) + 1) if roles[k - 1] == A and sum(counts[:k]) <= limit
    ]
    if not fitting:
        assert d == LengthDecision("drop", 0, sum(counts), 0)
        return
    assert d.action == "truncate" and d.keep_turns == max(fitting)
    assert d.kept_tokens == sum(counts[: d.keep_turns]) <= limit
