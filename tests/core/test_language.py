"""thresher.core.language and the language recipe keys."""

from __future__ import annotations

import pytest

from thresher.config import load_config
from thresher.core.language import cached_detector, identify, unknown_codes
from thresher.errors import ConfigError


@pytest.fixture(scope="module")
def detector():
    return cached_detector(True)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The committee reviewed the proposal and found that it had merit.", "en"),
        ("Der Ausschuss prüfte den Vorschlag und fand, dass er Vorzüge hatte.", "de"),
        ("Le comité a examiné la proposition et a constaté qu'elle avait du mérite.", "fr"),
        ("El comité revisó la propuesta y encontró que tenía mérito.", "es"),
        ("12345 678 -- !!", None),  # no letters: lingua cannot tell
        ("", None),
    ],
)
def test_identify(detector, text, language):
    code, score = identify(detector, text, max_chars=10_000)
    assert code == language
    assert (score > 0.5) if language else (score == 0.0)


def test_identify_reads_only_max_chars(detector):
    english = (
        "The committee reviewed the proposal and found that it had merit, although several "
        "members raised concerns about the cost of the new bridge over the river. "
    )
    text = "Der Hund läuft schnell nach Hause und bellt laut. " + english * 5
    assert identify(detector, text, max_chars=50)[0] == "de"
    assert identify(detector, text, max_chars=10_000)[0] == "en"


def test_detector_is_built_once_per_process():
    assert cached_detector(True) is cached_detector(True)


def test_unknown_codes():
    assert unknown_codes(["en", "DE", "xx", "english"]) == ["xx", "english"]


def test_recipe_rejects_unknown_language_code():
    with pytest.raises(ConfigError, match=r"filters\.language\.languages.*unknown ISO 639-1.*xx"):
        load_config(None, ["filters.language.languages=[en, xx]"])


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("filters.mode=keep", "filters.mode"),
        ("filters.gopher_quality.max_bullet_lines_ratio=1.5", "filters.gopher_quality"),
        ("filters.c4.mode=rewrite", "filters.c4.mode"),
        ("filters.gopher_repetition.top_ngram_char_frac={0: 0.2}", "top_ngram_char_frac"),
        ("bias.disparity.bound=0.9", "bias.disparity.bound"),
        ("filters.fineweb.typo=1", "filters.fineweb.typo"),
    ],
)
def test_recipe_errors_name_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, [override])
