"""Unit tests of core.normalize and core.hashing (tier a)."""

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thresher.core.hashing import content_key, fold_text, stable_bucket
from thresher.core.normalize import NormalizeOptions, normalize_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hello   world", "Hello world"),
        ("  leading and trailing  \n", "leading and trailing"),
        ("a\r\nb\rc", "a\nb\nc"),
        ("para one\n\n\n\n\npara two", "para one\n\npara two"),
        ("tab\tseparated", "tab separated"),
        ("nul\x00 and bell\x07 removed", "nul and bell removed"),
        ("zero\u200bwidth", "zerowidth"),
        ("\ufeffbom at start", "bom at start"),
        ("cafe\u0301", "caf\u00e9"),  # NFD -> NFC
        ("The cafÃ© is open", "The café is open"),  # mojibake repaired by ftfy
        ("line one  \nline two\t\n", "line one\nline two"),
        (
            "emoji \U0001f469\u200d\U0001f4bb keeps its joiner",
            "emoji \U0001f469\u200d\U0001f4bb keeps its joiner",
        ),
        ("already clean.", "already clean."),
    ],
)
def test_normalize_table(raw, expected):
    assert normalize_text(raw) == expected


def test_nfkc_only_by_option():
    # ftfy already expands Latin ligatures; compatibility forms such as circled digits stay
    # unless NFKC is asked for.
    assert normalize_text("ﬁne ①") == "fine ①"
    assert normalize_text("ﬁne ①", NormalizeOptions(fix_mojibake=False)) == "ﬁne ①"
    assert normalize_text("ﬁne ①", NormalizeOptions(unicode_form="NFKC")) == "fine 1"


def test_options_switch_steps_off():
    opts = NormalizeOptions(
        fix_mojibake=False, remove_control_chars=False, normalize_whitespace=False
    )
    assert normalize_text("cafÃ©\x07  x", opts) == "cafÃ©\x07  x"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_normalize_idempotent(text):
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert once == unicodedata.normalize("NFC", once)
    assert "\r" not in once and "\x00" not in once


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=100), st.booleans())
def test_normalize_idempotent_nfkc(text, mojibake):
    opts = NormalizeOptions(unicode_form="NFKC", fix_mojibake=mojibake)
    once = normalize_text(text, opts)
    assert normalize_text(once, opts) == once


@pytest.mark.parametrize(
    ("a", "b", "casefold", "strip", "same"),
    [
        ("Hello world", "Hello  world", False, False, True),
        ("Hello world", "hello world", False, False, False),
        ("Hello world", "hello world", True, False, True),
        ("Hello, world!", "Hello world", False, True, True),
        ("Hello, world!", "Hello world", False, False, False),
        ("abc", "abd", True, True, False),
    ],
)
def test_content_key_folding(a, b, casefold, strip, same):
    assert (content_key(a, casefold, strip) == content_key(b, casefold, strip)) is same


def test_fold_text_collapses_whitespace():
    assert fold_text(" a \n b\t") == "a b"


def test_stable_bucket_is_stable_and_in_range():
    assert stable_bucket("doc-1", 7) == stable_bucket("doc-1", 7)
    assert {stable_bucket(f"d{i}", 5) for i in range(200)} == set(range(5))
    assert stable_bucket("x", 0) == 0
