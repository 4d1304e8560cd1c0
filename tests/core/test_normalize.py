"""Unit tests of core.normalize and core.hashing (tier a)."""

import re
import unicodedata
from unittest import mock

import ftfy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thresher.core import normalize
from thresher.core.hashing import content_key, fold_text, stable_bucket
from thresher.core.normalize import _FTFY_ASCII_WORK, NormalizeOptions, normalize_text


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


# ASCII with words, HTML-entity-like runs, terminal escapes and every control character
_ASCII_PIECES = st.one_of(
    st.text(alphabet=st.characters(max_codepoint=127), max_size=20),
    st.sampled_from(["&amp;", "&lt;", "&#39;", "&hellip;", "\x1b[31m", "<b>", "\r\n", " \t\n"]),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_ASCII_PIECES, max_size=12).map("".join))
def test_ascii_text_that_skips_ftfy_is_what_ftfy_leaves_unchanged(text):
    text = text.replace("\r", "\n")  # normalize_text turns \r into \n before ftfy
    if _FTFY_ASCII_WORK.search(text) is None:
        assert ftfy.fix_text(text, normalization=None, fix_line_breaks=True) == text
    # and the skip never changes what normalize_text returns
    with mock.patch.object(normalize, "_FTFY_ASCII_WORK", re.compile("")):  # ftfy always
        always = normalize_text(text)
    assert normalize_text(text) == always


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
