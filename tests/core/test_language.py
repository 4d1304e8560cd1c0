"""thresher.core.language and the language recipe keys."""

from __future__ import annotations

import pytest

from thresher.config import load_config
from thresher.core.language import (
    BACKENDS,
    CASCADE_MIN_CHARS,
    CASCADE_SURE,
    build_detector,
    cached_detector,
    fasttext_model_path,
    identify,
    prose_lines,
    unknown_codes,
)
from thresher.errors import ConfigError


@pytest.fixture(scope="module", params=BACKENDS)
def detector(request):
    return cached_detector(True, request.param)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The committee reviewed the proposal and found that it had merit.", "en"),
        ("Der Ausschuss prüfte den Vorschlag und fand, dass er Vorzüge hatte.", "de"),
        ("Le comité a examiné la proposition et a constaté qu'elle avait du mérite.", "fr"),
        ("El comité revisó la propuesta y encontró que tenía mérito.", "es"),
        ("12345 678 -- !!", None),  # no letters: nothing to tell a language by
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


PROSE = (
    "The committee reviewed the proposal and found that it had merit, although several "
    "members raised concerns about the cost."
)
# English that fastText is unsure of (markup and identifiers), and a short sentence
TECHNICAL = (
    "Returns: dict[str, int] -- counts per key; raises KeyError if the key is missing from "
    "cfg.keys (see utils.py line 42)."
)
SHORT = "The committee met on Tuesday."
# prose around a code block and a table: fastText is unsure of the whole, sure of the prose
README = """Install the package and run the pipeline on your own files.
```
pip install thresher==1.2.0
thresher run --input data/*.jsonl --output out/ --set pii.enabled=false
```
The command writes Parquet shards, a manifest and a dataset card into the output folder.
| key | default |
|---|---|
| dedup.near.threshold | 0.8 |
"""


def test_prose_lines_set_code_tables_and_short_lines_aside():
    assert prose_lines(README).splitlines() == [
        "Install the package and run the pipeline on your own files.",
        "The command writes Parquet shards, a manifest and a dataset card into the output folder.",
    ]
    assert prose_lines("  Le comité a examiné la proposition.  \n{}\n") == (
        "Le comité a examiné la proposition."
    )
    assert prose_lines("x = [1, 2, 3]  # a list\nok") == ""


def test_cascade_keeps_sure_fasttext_verdicts_and_asks_lingua_for_the_rest():
    fast, lingua = cached_detector(True, "fasttext"), cached_detector(True, "lingua")
    cascade = build_detector(True, "cascade")
    assert fast.identify(PROSE, 10_000)[1] >= CASCADE_SURE
    assert cascade.identify(PROSE, 10_000) == fast.identify(PROSE, 10_000)
    # the prose lines of a README decide, not the code and the table around them
    assert fast.identify(README, 10_000)[1] < CASCADE_SURE
    sure = fast.identify(prose_lines(README), 10_000)
    assert sure[1] >= CASCADE_SURE and cascade.identify(README, 10_000) == sure
    assert cascade.sure_verdict(README, 10_000) == sure
    assert cascade.sure_verdict(TECHNICAL, 10_000) is None
    # unsure of the prose: lingua decides on the whole text
    assert fast.identify(prose_lines(TECHNICAL), 10_000)[1] < CASCADE_SURE
    assert cascade.identify(TECHNICAL, 10_000) == lingua.identify(TECHNICAL, 10_000)
    # too little text (or too little prose) for fastText: lingua
    assert len(SHORT) < CASCADE_MIN_CHARS
    assert cascade.identify(SHORT, 10_000) == lingua.identify(SHORT, 10_000)
    assert cascade.identify(PROSE, 50) == lingua.identify(PROSE, 50)  # max_chars counts
    # a stricter `sure` (a recipe min_confidence above CASCADE_SURE) sends more to lingua
    strict = build_detector(True, "cascade", sure=0.999)
    assert strict.identify(PROSE, 10_000) == lingua.identify(PROSE, 10_000)


def test_cascade_codes_are_those_both_backends_know():
    assert unknown_codes(["ceb", "en"], "cascade") == ["ceb"]
    with pytest.raises(ConfigError, match=r"ceb for backend cascade"):
        load_config(None, ["filters.language.languages=[ceb]"])


def test_detector_is_built_once_per_process():
    assert cached_detector(True) is cached_detector(True)
    assert cached_detector(True, "fasttext") is cached_detector(True, "fasttext")


def test_fasttext_reads_the_installed_model_and_several_lines():
    assert fasttext_model_path().name == "lid.176.ftz" and fasttext_model_path().is_file()
    lines = "The committee reviewed the proposal.\nIt found that the plan had merit.\n"
    code, score = identify(cached_detector(True, "fasttext"), lines * 3, max_chars=10_000)
    assert code == "en" and 0.65 < score <= 1.0
    assert score == round(score, 6)


def test_unknown_codes():
    assert unknown_codes(["en", "DE", "xx", "english"]) == ["xx", "english"]
    # Cebuano: lid.176 has it, lingua does not
    assert unknown_codes(["ceb", "en"], "lingua") == ["ceb"]
    assert unknown_codes(["ceb", "en", "xx"], "fasttext") == ["xx"]


def test_recipe_rejects_unknown_language_code():
    with pytest.raises(ConfigError, match=r"filters\.language.*unknown language code.*xx"):
        load_config(None, ["filters.language.languages=[en, xx]"])
    with pytest.raises(ConfigError, match=r"ceb for backend lingua"):
        load_config(None, ["filters.language.languages=[ceb]", "filters.language.backend=lingua"])
    cfg = load_config(
        None, ["filters.language.languages=[CEB, en]", "filters.language.backend=fasttext"]
    )
    assert cfg.filters.language.languages == ["ceb", "en"]


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
